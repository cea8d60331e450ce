#include "web/auth.h"

#include <pwd.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace pgjobs::web {

namespace {

Status CheckPrivate(const std::string& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    return Status::InvalidArgument("cannot read " + file + ": it does not exist (create users with "
                                   "`pgjobs web add-user NAME --users " + file + "`)");
  }
  if ((st.st_mode & 077) != 0) {
    return Status::InvalidArgument(file + " is readable by other users: run `chmod 600 " + file +
                                   "` (and chown it to the service's user)");
  }
  return Status::Ok();
}

Result<std::vector<std::string>> ReadLines(const std::string& file) {
  PGJOBS_RETURN_IF_ERROR(CheckPrivate(file));
  std::ifstream in(file);
  if (!in) {
    int error = errno;
    std::string why = std::strerror(error);
    if (error == EACCES) {
      // `pgjobs web add-user` run as root writes a root-owned file.
      const passwd* pw = getpwuid(geteuid());
      why += " (pgjobs web runs as " + std::string(pw != nullptr ? pw->pw_name : "this user") +
             ": give it the file, e.g. chown " + std::string(pw != nullptr ? pw->pw_name : "USER") +
             " " + file + ")";
    }
    return Status::InvalidArgument("cannot read " + file + ": " + why);
  }
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty() && line[0] != '#') lines.push_back(line);
  }
  return lines;
}

bool ValidRole(const std::string& role) { return role == kRoleAdmin || role == kRoleRead; }

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
          c == '@'))
      return false;
  }
  return true;
}

// Equal-length digests compared in constant time.
bool SameSecret(const std::string& a, const std::string& b) {
  unsigned char da[32], db[32];
  crypto_generichash(da, sizeof da, reinterpret_cast<const unsigned char*>(a.data()), a.size(),
                     nullptr, 0);
  crypto_generichash(db, sizeof db, reinterpret_cast<const unsigned char*>(b.data()), b.size(),
                     nullptr, 0);
  return sodium_memcmp(da, db, sizeof da) == 0;
}

}  // namespace

Auth::Auth() {
  unsigned char key[crypto_auth_KEYBYTES];
  randombytes_buf(key, sizeof key);
  csrf_key_.assign(reinterpret_cast<char*>(key), sizeof key);
}

Result<Auth> Auth::Load(const std::string& users_file, const std::string& token_file) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  Auth auth;
  if (!users_file.empty()) {
    auto lines = ReadLines(users_file);
    if (!lines.ok()) return lines.status();
    for (size_t i = 0; i < lines->size(); ++i) {
      const std::string& l = (*lines)[i];
      size_t a = l.find(':'), b = a == std::string::npos ? a : l.find(':', a + 1);
      std::string where = users_file + " line " + std::to_string(i + 1);
      if (b == std::string::npos) {
        return Status::InvalidArgument(where + ": expected NAME:ROLE:HASH (write it with "
                                       "`pgjobs web add-user`)");
      }
      std::string role = l.substr(a + 1, b - a - 1);
      if (!ValidRole(role)) {
        return Status::InvalidArgument(where + ": role \"" + role + "\" is not admin or read");
      }
      auth.users_[l.substr(0, a)] = {role, l.substr(b + 1)};
    }
  }
  if (!token_file.empty()) {
    auto lines = ReadLines(token_file);
    if (!lines.ok()) return lines.status();
    for (size_t i = 0; i < lines->size(); ++i) {
      const std::string& l = (*lines)[i];
      // ROLE:TOKEN, or NAME:ROLE:TOKEN so that the audit log can tell the
      // scripts apart ("NAME@web" rather than "token@web").
      size_t a = l.find(':');
      size_t b = a == std::string::npos ? std::string::npos : l.find(':', a + 1);
      Token t{"token", a == std::string::npos ? "" : l.substr(0, a),
              a == std::string::npos ? "" : l.substr(a + 1)};
      if (!ValidRole(t.role) && b != std::string::npos && ValidRole(l.substr(a + 1, b - a - 1)) &&
          ValidName(l.substr(0, a))) {
        t = Token{l.substr(0, a), l.substr(a + 1, b - a - 1), l.substr(b + 1)};
      }
      if (!ValidRole(t.role) || t.secret.size() < 16) {
        return Status::InvalidArgument(token_file + " line " + std::to_string(i + 1) +
                                       ": expected ROLE:TOKEN or NAME:ROLE:TOKEN, ROLE admin or "
                                       "read and a token of at least 16 characters (e.g. "
                                       "`openssl rand -hex 32`)");
      }
      auth.tokens_.push_back(std::move(t));
    }
  }
  return auth;
}

std::optional<Identity> Auth::Check(const std::string& authorization) const {
  if (!enabled()) return Identity{"local", kRoleAdmin, false};
  if (authorization.rfind("Bearer ", 0) == 0) {
    std::string given = authorization.substr(7);
    for (const Token& t : tokens_) {
      if (SameSecret(given, t.secret)) return Identity{t.name, t.role, true};
    }
    return std::nullopt;
  }
  if (authorization.rfind("Basic ", 0) != 0) return std::nullopt;
  auto decoded = DecodeBase64(authorization.substr(6));
  if (!decoded) return std::nullopt;
  size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string name = decoded->substr(0, colon), password = decoded->substr(colon + 1);
  auto it = users_.find(name);
  if (it == users_.end()) return std::nullopt;
  const std::string& hash = it->second.second;
  if (crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) != 0) {
    return std::nullopt;
  }
  return Identity{name, it->second.first, false};
}

std::string Auth::Csrf(const std::string& name) const {
  unsigned char mac[crypto_auth_BYTES];
  crypto_auth(mac, reinterpret_cast<const unsigned char*>(name.data()), name.size(),
              reinterpret_cast<const unsigned char*>(csrf_key_.data()));
  char hex[crypto_auth_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  return hex;
}

bool Auth::CsrfValid(const std::string& name, const std::string& token) const {
  return !token.empty() && SameSecret(Csrf(name), token);
}

Status AddUser(const std::string& file, const std::string& name, const std::string& role,
               const std::string& password) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  if (!ValidName(name)) {
    return Status::InvalidArgument("user name \"" + name +
                                   "\" must be 1-64 letters, digits, _ - . or @");
  }
  if (!ValidRole(role)) {
    return Status::InvalidArgument("--role must be admin or read, not \"" + role + "\"");
  }
  if (password.size() < 8) {
    return Status::InvalidArgument("the password must have at least 8 characters");
  }
  char hash[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(hash, password.data(), password.size(),
                        crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return Status::Internal("crypto_pwhash_str ran out of memory");
  }
  std::vector<std::string> kept;
  if (::access(file.c_str(), F_OK) == 0) {
    auto lines = ReadLines(file);
    if (!lines.ok()) return lines.status();
    for (const std::string& l : *lines) {
      if (l.substr(0, l.find(':')) != name) kept.push_back(l);
    }
  }
  kept.push_back(name + ":" + role + ":" + hash);
  std::string tmp = file + ".tmp";
  mode_t old = ::umask(077);
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const std::string& l : kept) out << l << "\n";
    if (!out) {
      ::umask(old);
      return Status::InvalidArgument("cannot write " + tmp);
    }
  }
  ::umask(old);
  ::chmod(tmp.c_str(), 0600);
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    return Status::InvalidArgument("cannot replace " + file);
  }
  return Status::Ok();
}

std::optional<std::string> DecodeBase64(const std::string& text) {
  std::string out(text.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.c_str(),
                        text.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

}  // namespace pgjobs::web
