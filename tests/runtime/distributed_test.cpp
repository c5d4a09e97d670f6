// Data-parallel pieces (issue 20), in one process: how rows are split over
// ranks, the torchrun variables, gradient buckets, the shard's dropout and
// batches being the whole's rows, and two ranks joined in two threads over a
// real c10d store and Gloo group — their collectives, and what a rank's
// failure or absence makes the other say. The jobs on several processes are
// tested through the CLI (cli_distributed_*.sh, distributed_training_test.cpp).
#include <ATen/ATen.h>
#include <torch/nn/functional/dropout.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <vector>

#include "runtime/base/shard.hpp"
#include "runtime/data/batch_loader.hpp"
#include "runtime/distributed/c10d_group.hpp"
#include "runtime/distributed/launch_env.hpp"
#include "runtime/distributed/peer_ledger.hpp"
#include "runtime/distributed/rank_group.hpp"
#include "runtime/distributed/tensor_buckets.hpp"
#include "runtime/nn/shard_dropout.hpp"
#include "runtime/training/objective.hpp"
#include "test_support.hpp"

namespace rt = spdec::runtime;

namespace {

rt::EnvReader fake_env(const std::map<std::string, std::string>& values) {
  return [values](const char* name) -> const char* {
    const auto it = values.find(name);
    return it == values.end() ? nullptr : it->second.c_str();
  };
}

/// Runs `body(rank)` for ranks 0 and 1 in two threads, each a RankGroup
/// joined through a store hosted here (as the --nproc launcher hosts it).
template <typename Body>
void two_ranks(std::chrono::milliseconds timeout, const Body& body) {
  if (!rt::has_gloo()) {
    WARN("this build has no c10d Gloo: nothing to test");
    return;
  }
  const auto store = rt::host_store("127.0.0.1", 2, timeout);
  rt::GroupOptions options;
  options.backend = spdec::config::DistributedBackend::gloo;
  options.timeout = timeout;
  std::vector<std::string> errors(2);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < 2; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        rt::LaunchEnv env;
        env.rank = rank;
        env.world_size = 2;
        env.local_rank = rank;
        env.local_world_size = 2;
        env.master_port = rt::store_port(store);
        env.agent_store = true;
        env.store_prefix = "/worker/attempt_0";
        auto group = rt::RankGroup::join(env, options);
        body(*group);
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(rank)] = e.what();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int rank = 0; rank < 2; ++rank) {
    INFO("rank " << rank);
    CHECK(errors[static_cast<std::size_t>(rank)].empty());
  }
}

}  // namespace

TEST_CASE("distributed: shards split n rows contiguously and evenly", "[distributed]") {
  for (const std::int64_t n : {0, 1, 5, 32, 33}) {
    for (const int ranks : {1, 2, 3, 8}) {
      std::int64_t next = 0;
      for (int r = 0; r < ranks; ++r) {
        const rt::Shard shard = rt::shard_of(n, r, ranks);
        CHECK(shard.begin == next);
        CHECK(shard.total == n);
        CHECK(shard.size() >= n / ranks);
        CHECK(shard.size() <= n / ranks + 1);
        next = shard.end;
      }
      CHECK(next == n);
    }
  }
  CHECK(rt::shard_of(7, 0, 1).is_whole());
  CHECK(rt::shard_of(5, 0, 2).size() == 3);  // the first ranks take the extra rows
  CHECK(rt::shard_of(1, 0, 3).size() == 1);
  CHECK_THROWS_AS(rt::shard_of(8, 2, 2), std::invalid_argument);
  // Whole batches: 7 rows in batches of 2 are 4 batches, 2 per rank.
  CHECK(rt::batch_shard_of(7, 2, 0, 2).begin == 0);
  CHECK(rt::batch_shard_of(7, 2, 0, 2).end == 4);
  CHECK(rt::batch_shard_of(7, 2, 1, 2).begin == 4);
  CHECK(rt::batch_shard_of(7, 2, 1, 2).end == 7);
  // One batch for three ranks: the first has it, the others none.
  CHECK(rt::batch_shard_of(2, 4, 0, 3).size() == 2);
  CHECK(rt::batch_shard_of(2, 4, 1, 3).size() == 0);
  CHECK(rt::batch_shard_of(2, 4, 2, 3).size() == 0);
}

TEST_CASE("distributed: the torchrun variables", "[distributed]") {
  CHECK_FALSE(rt::read_launch_env(fake_env({})));
  CHECK_FALSE(rt::read_launch_env(fake_env({{"RANK", "0"}, {"WORLD_SIZE", "1"}})));
  const auto env = rt::read_launch_env(fake_env({{"RANK", "1"},
                                                 {"WORLD_SIZE", "4"},
                                                 {"LOCAL_RANK", "1"},
                                                 {"LOCAL_WORLD_SIZE", "2"},
                                                 {"MASTER_ADDR", "10.0.0.1"},
                                                 {"MASTER_PORT", "29500"},
                                                 {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                                                 {"TORCHELASTIC_RESTART_COUNT", "3"}}));
  REQUIRE(env);
  CHECK(env->rank == 1);
  CHECK(env->world_size == 4);
  CHECK(env->local_rank == 1);
  CHECK(env->local_world_size == 2);
  CHECK(env->master_addr == "10.0.0.1");
  CHECK(env->master_port == 29500);
  CHECK(env->agent_store);
  CHECK(env->store_prefix == "/worker/attempt_3");
  // Without LOCAL_*: every rank on this machine.
  const auto local = rt::read_launch_env(
      fake_env({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "x"}, {"MASTER_PORT", "1"}}));
  REQUIRE(local);
  CHECK(local->local_rank == 1);
  CHECK(local->local_world_size == 2);
  CHECK_FALSE(local->agent_store);
  const auto error = [](const std::map<std::string, std::string>& values) {
    try {
      (void)rt::read_launch_env(fake_env(values));
    } catch (const rt::LaunchEnvError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error({{"RANK", "0"}}).rfind("WORLD_SIZE is not set", 0) == 0);
  CHECK(error({{"RANK", "2"}, {"WORLD_SIZE", "2"}}) == "RANK=2 is not an integer in [0, 1]");
  CHECK(error({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "1"}})
            .rfind("MASTER_ADDR is not set", 0) == 0);
  CHECK(error({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "x"}}) ==
        "MASTER_PORT=x is not an integer in [1, 65535]");
}

TEST_CASE("distributed: tensor buckets pack and unpack by dtype and size", "[distributed]") {
  spdec::test::torch_setup();
  std::vector<at::Tensor> tensors{at::randn({3, 4}), at::randn({5}), at::randn({2}).to(at::kDouble),
                                  at::randn({7})};
  const rt::TensorBuckets wide(tensors, at::kCPU);
  CHECK(wide.bytes() == (12 + 5 + 7) * 4 + 2 * 8);
  rt::TensorBuckets narrow(tensors, at::kCPU, /*cap_bytes=*/64);  // 16 floats at most
  CHECK(narrow.buffers().size() == 4);  // [3x4], [5] (no room left), the double, [7]
  std::vector<at::Tensor> gradients{tensors[0] * 2, at::Tensor(), tensors[2] * 2, tensors[3] * 2};
  narrow.pack(gradients);
  CHECK(narrow.buffers()[1].abs().sum().item<double>() == 0.0);  // undefined: zeros
  for (at::Tensor& buffer : narrow.buffers()) buffer.mul_(0.5);
  std::vector<at::Tensor> back{at::empty({3, 4}), at::Tensor(), at::empty({2}, at::kDouble),
                               at::empty({7})};
  narrow.unpack(back);
  CHECK(at::equal(back[0], tensors[0]));
  CHECK_FALSE(back[1].defined());
  CHECK(at::equal(back[2], tensors[2]));
  CHECK(at::equal(back[3], tensors[3]));
}

TEST_CASE("distributed: a shard's dropout masks are the whole batch's rows", "[distributed]") {
  spdec::test::torch_setup();
  const at::Tensor x = at::randn({6, 3, 4, 4});
  at::manual_seed(7);
  const at::Tensor whole = torch::dropout(x, 0.3, true);
  std::vector<at::Tensor> parts;
  for (int r = 0; r < 3; ++r) {
    auto rows = std::make_shared<rt::Shard>(rt::shard_of(6, r, 3));
    rt::ShardDropout dropout(0.3, rows);
    at::manual_seed(7);  // every rank draws with the same generator state
    parts.push_back(dropout->forward(x.narrow(0, rows->begin, rows->size())));
  }
  CHECK(at::equal(at::cat(parts, 0), whole));
  // Whole, or evaluating: ATen's own dropout.
  rt::ShardDropout plain(0.3, std::make_shared<rt::Shard>(rt::Shard{0, 6, 6}));
  at::manual_seed(7);
  CHECK(at::equal(plain->forward(x), whole));
  plain->eval();
  CHECK(at::equal(plain->forward(x), x));
}

TEST_CASE("distributed: the batch loader's shards make up each global batch", "[distributed]") {
  spdec::test::torch_setup();
  rt::Dataset data;
  data.images = at::arange(40 * 4, at::kFloat).reshape({40, 1, 2, 2}).to(at::kByte);
  data.labels = at::arange(40, at::kLong);
  data.flip = true;
  rt::LoaderOptions options;
  options.batch_size = 7;
  options.seed = 3;
  options.start_batch = 4;  // across an epoch's end (5 batches per epoch)
  options.drop_last = true;
  rt::BatchLoader whole(data, options);
  std::vector<std::unique_ptr<rt::BatchLoader>> ranks;
  for (int r = 0; r < 3; ++r) {
    options.shard_rank = r;
    options.shard_count = 3;
    ranks.push_back(std::make_unique<rt::BatchLoader>(data, options));
  }
  for (int step = 0; step < 4; ++step) {
    const rt::Batch batch = whole.next();
    std::vector<at::Tensor> images;
    std::vector<at::Tensor> labels;
    for (int r = 0; r < 3; ++r) {
      const rt::Batch part = ranks[static_cast<std::size_t>(r)]->next();
      CHECK(part.rows.begin == rt::shard_of(7, r, 3).begin);
      CHECK(part.rows.total == 7);
      images.push_back(part.images);
      labels.push_back(part.labels);
    }
    CHECK(at::equal(at::cat(images, 0), batch.images));
    CHECK(at::equal(at::cat(labels, 0), batch.labels));
  }
}

TEST_CASE("distributed: a shard's noise streams are the global rows'", "[distributed]") {
  const at::Tensor whole = rt::training_sample_ids(8, 5, at::kCPU);
  CHECK(at::equal(rt::training_sample_ids(3, 5, at::kCPU, 4), whole.narrow(0, 4, 3)));
  rt::TrainingDraw draw;
  draw.x0 = at::zeros({3, 1, 2, 2});
  draw.row_offset = 4;
  draw.global_rows = 8;
  const at::Tensor drawn = at::arange(8, at::kFloat);
  CHECK(at::equal(rt::rows_of_draw(drawn, draw), drawn.narrow(0, 4, 3)));
}

TEST_CASE("distributed: two ranks' collectives over c10d Gloo", "[distributed]") {
  spdec::test::torch_setup(1, 1);
  two_ranks(std::chrono::seconds(30), [](rt::RankGroup& ranks) {
    CHECK(ranks.size() == 2);
    CHECK(ranks.backend() == "gloo");
    const auto r = static_cast<double>(ranks.rank());
    std::vector<at::Tensor> sums{at::full({3}, r + 1.0), at::full({2}, 10.0 * r, at::kDouble)};
    ranks.all_reduce_sum(sums, "a test all-reduce");
    CHECK(at::equal(sums[0], at::full({3}, 3.0)));
    CHECK(at::equal(sums[1], at::full({2}, 10.0, at::kDouble)));
    const std::string bytes =
        ranks.broadcast_bytes(ranks.is_root() ? "from rank 0" : "ignored", "a test broadcast");
    CHECK(bytes == "from rank 0");
    CHECK(ranks.broadcast_flag(ranks.is_root(), "a test flag"));
    // 5 rows: rank 0 has 3, rank 1 has 2; rank 0 gets them back in order.
    const rt::Shard shard = rt::shard_of(5, ranks.rank(), 2);
    const at::Tensor mine =
        at::arange(shard.begin, shard.end, at::kFloat).reshape({-1, 1}).repeat({1, 2});
    const at::Tensor all = ranks.gather_rows(mine, {3, 2}, "a test gather");
    if (ranks.is_root()) {
      CHECK(at::equal(all, at::arange(5, at::kFloat).reshape({-1, 1}).repeat({1, 2})));
    } else {
      CHECK_FALSE(all.defined());
    }
  });
}

TEST_CASE("distributed: a rank that fails or never arrives is named by the other",
          "[distributed]") {
  spdec::test::torch_setup(1, 1);
  SECTION("a rank that fails: its own error") {
    std::string message;
    two_ranks(std::chrono::seconds(20), [&message](rt::RankGroup& ranks) {
      if (!ranks.is_root()) {
        ranks.report_failure("boom: the data set is unreadable");
        return;  // its group goes away, closing its connections
      }
      std::vector<at::Tensor> sums{at::ones({4})};
      try {
        ranks.all_reduce_sum(sums, "step 3's all-reduce");
      } catch (const rt::RankFailure& e) {
        message = e.what();
      }
    });
    INFO(message);
    CHECK(message.find("rank 0 of 2: stopped at step 3's all-reduce: rank 1 failed: boom") == 0);
  }
  SECTION("a rank that fails before it joins: the other stops at once") {
    if (!rt::has_gloo()) return;
    const auto store = rt::host_store("127.0.0.1", 2, std::chrono::seconds(30));
    // What the --nproc launcher leaves for a rank that died at start-up.
    rt::PeerLedger::record_failure(
        c10::make_intrusive<c10d::PrefixStore>(
            "spdec", c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_0", store)),
        1, "its process (pid 4242) exited with status 1", true);
    rt::LaunchEnv env;
    env.world_size = 2;
    env.local_world_size = 2;
    env.master_port = rt::store_port(store);
    env.agent_store = true;
    env.store_prefix = "/worker/attempt_0";
    rt::GroupOptions options;
    options.backend = spdec::config::DistributedBackend::gloo;
    options.timeout = std::chrono::seconds(30);
    const auto began = std::chrono::steady_clock::now();
    std::string message;
    try {
      (void)rt::RankGroup::join(env, options);
    } catch (const rt::RankFailure& e) {
      message = e.what();
    }
    CHECK(message ==
          "rank 0 of 2: the job did not start: rank 1 failed: its process (pid 4242) exited with "
          "status 1");
    CHECK(std::chrono::steady_clock::now() - began < std::chrono::seconds(5));
  }
  SECTION("a rank that never arrives: named within the timeout") {
    std::string message;
    double seconds = 0.0;
    two_ranks(std::chrono::seconds(2), [&](rt::RankGroup& ranks) {
      if (!ranks.is_root()) {
        std::this_thread::sleep_for(std::chrono::seconds(8));  // alive, but elsewhere
        return;
      }
      std::vector<at::Tensor> sums{at::ones({4})};
      const auto began = std::chrono::steady_clock::now();
      try {
        ranks.all_reduce_sum(sums, "step 9's all-reduce");
      } catch (const rt::RankFailure& e) {
        message = e.what();
      }
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    });
    INFO(message);
    CHECK(message.find("rank 1 did not reach step 9's all-reduce within 2 s") != std::string::npos);
    CHECK(seconds < 2.0 + 3.0 + 2.0);  // the timeout, the settling wait, slack
  }
}
