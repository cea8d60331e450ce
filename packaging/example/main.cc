// hello_pgjobs DSN [SCHEMA]: enqueues one "hello" job, runs it with an
// in-process C++ handler, and prints what the handler saw.
#include <pgjobs/client.h>
#include <pgjobs/worker.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: hello_pgjobs DSN [SCHEMA]\n");
    return 2;
  }
  std::string schema = argc > 2 ? argv[2] : "pgjobs";
  auto client = pgjobs::Client::Open({argv[1], schema});
  if (!client.ok()) {
    std::fprintf(stderr, "hello_pgjobs: %s\n", client.status().message().c_str());
    return 1;
  }
  pgjobs::JobRequest request{"hello", R"({"name": "world"})", {}};
  request.options.queue = "hello_example";
  auto id = (*client)->Enqueue(request);
  if (!id.ok()) {
    std::fprintf(stderr, "hello_pgjobs: %s\n", id.status().message().c_str());
    return 1;
  }

  pgjobs::WorkerOptions options;
  options.dsn = argv[1];
  options.schema = schema;
  options.queues = {{"hello_example", 1}};
  pgjobs::Worker worker(options);
  std::atomic<bool> ran{false};
  worker.Register("hello", [&](pgjobs::JobContext& job) {
    std::printf("hello job %lld ran with args %s\n", static_cast<long long>(job.job().id),
                job.job().args_json.c_str());
    ran = true;
    return pgjobs::HandlerResult::Success();
  });
  pgjobs::Status started = worker.Start();
  if (!started.ok()) {
    std::fprintf(stderr, "hello_pgjobs: %s\n", started.message().c_str());
    return 1;
  }
  for (int i = 0; i < 300 && (!ran || worker.Stats().succeeded == 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  worker.Stop(std::chrono::seconds(5));
  return worker.Stats().succeeded == 1 ? 0 : 1;
}
