// Run fingerprints are stored in every checkpoint and compared on resume and
// on sampling: a changed value refuses every checkpoint trained before it.
// These are pinned (FNV-1a 64 of the key text, lang/hash.hpp).
#include <catch2/catch.hpp>

#include "lang/process.hpp"
#include "runtime/run/run_setup.hpp"

namespace lang = spdec::lang;

namespace {

lang::Process pinned_process() {
  lang::Process process;
  process.name = "pinned";
  process.semantics = lang::Semantics::decoupled;
  process.boundary.kind = lang::BoundaryKind::neumann;
  process.time.t0 = 0.001;
  process.time.T = 1.0;
  process.time.dt = 0.01;
  process.params.push_back({"a", 0.5, false, {}});
  return process;
}

}  // namespace

TEST_CASE("process fingerprints keep their values", "[runtime][fingerprint]") {
  const lang::Process process = pinned_process();
  CHECK(spdec::runtime::process_fingerprint(process, "fed") == "pinned-44faec08ec463eb3");

  lang::Process other;
  other.name = "pinned";
  other.semantics = lang::Semantics::sde;
  other.boundary.kind = lang::BoundaryKind::periodic;
  other.time.T = 2.0;
  other.time.dt = 0.1;
  CHECK(spdec::runtime::process_fingerprint(other) == "pinned-476fdb20f6b13a66");
}
