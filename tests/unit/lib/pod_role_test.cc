// CRI annotations that group containers into pods (lib/pod_role.h).
#include "lib/pod_role.h"

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata;

TEST_GROUP(PodRole){};

TEST(PodRole, ContainerJoinsItsSandbox) {
  oci::Spec spec;
  spec.annotations = {{"io.kubernetes.cri.container-type", "container"},
                      {"io.kubernetes.cri.sandbox-id", "sb1"}};
  auto r = oci::podRole(spec);
  CHECK_TRUE(r.ok());
  CHECK_TRUE(r->member);
  STRCMP_EQUAL("sb1", r->sandboxId.c_str());

  spec.annotations = {{"io.kubernetes.cri-o.ContainerType", "container"},
                      {"io.kubernetes.cri-o.SandboxID", "sb2"}};
  r = oci::podRole(spec);
  CHECK_TRUE(r.ok() && r->member);
  STRCMP_EQUAL("sb2", r->sandboxId.c_str());
}

TEST(PodRole, SandboxOrNothingStandsAlone) {
  oci::Spec spec;
  CHECK_FALSE(oci::podRole(spec)->member);
  CHECK_FALSE(oci::podRole(spec)->podSandbox);
  spec.annotations = {{"io.kubernetes.cri.container-type", "sandbox"},
                      {"io.kubernetes.cri.sandbox-id", "sb1"}};
  CHECK_FALSE(oci::podRole(spec)->member);
  CHECK_TRUE(oci::podRole(spec)->podSandbox);
  spec.annotations = {{"io.kubernetes.cri-o.ContainerType", "sandbox"}};
  CHECK_TRUE(oci::podRole(spec)->podSandbox);
}

TEST(PodRole, BadSandboxIdIsRefused) {
  oci::Spec spec;
  spec.annotations = {{"io.kubernetes.cri.container-type", "container"}};
  STRCMP_CONTAINS("without a sandbox id", oci::podRole(spec).error().str().c_str());
  spec.annotations["io.kubernetes.cri.sandbox-id"] = "../x";
  STRCMP_CONTAINS("sandbox id annotation: invalid", oci::podRole(spec).error().str().c_str());
}
