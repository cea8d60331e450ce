// Who may use the dashboard and what they may do. Without a users or token
// file the server accepts everyone (allowed only on a loopback address);
// with one, every request needs HTTP basic auth against the users file
// (passwords hashed with libsodium's crypto_pwhash_str, Argon2id) or a
// bearer token from the token file. Roles: "admin" sees and acts, "read"
// only sees (403 on actions). Actions also need the CSRF token (Csrf) unless
// they come with a bearer token, which a browser never sends by itself.
#ifndef PGJOBS_WEB_AUTH_H_
#define PGJOBS_WEB_AUTH_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pgjobs/status.h"

namespace pgjobs::web {

inline constexpr const char* kRoleAdmin = "admin";
inline constexpr const char* kRoleRead = "read";

struct Identity {
  std::string name;  // user name, "token" or "local"
  std::string role;  // kRoleAdmin or kRoleRead
  bool bearer = false;  // authenticated by a bearer token (no CSRF needed)
};

class Auth {
 public:
  // Reads users_file ("NAME:ROLE:HASH" lines) and token_file ("ROLE:TOKEN"
  // lines) when not empty. Each must exist and be readable by its owner
  // only (mode 600 or 400): InvalidArgument naming the file and the fix.
  static Result<Auth> Load(const std::string& users_file, const std::string& token_file);

  // True when requests must authenticate.
  bool enabled() const { return !users_.empty() || !tokens_.empty(); }
  // The identity for an Authorization header value ("" when absent);
  // nullopt means 401.
  std::optional<Identity> Check(const std::string& authorization) const;
  // The CSRF token of identity name: an HMAC of the name under a key made
  // at start, so it holds for the life of the process.
  std::string Csrf(const std::string& name) const;
  bool CsrfValid(const std::string& name, const std::string& token) const;

 private:
  Auth();
  std::map<std::string, std::pair<std::string, std::string>> users_;  // name -> (role, hash)
  struct Token {
    std::string name;  // "token" unless the line names it (NAME:ROLE:TOKEN)
    std::string role;
    std::string secret;
  };
  std::vector<Token> tokens_;
  std::string csrf_key_;
};

// Adds or replaces user name in file (created with mode 600) with password
// hashed by crypto_pwhash_str. role is "admin" or "read".
Status AddUser(const std::string& file, const std::string& name, const std::string& role,
               const std::string& password);

// Base64 (RFC 4648) decoding; nullopt when text is not base64.
std::optional<std::string> DecodeBase64(const std::string& text);

}  // namespace pgjobs::web

#endif  // PGJOBS_WEB_AUTH_H_
