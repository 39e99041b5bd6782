// Validates Kubernetes manifests (a JSON array on stdin) against the schemas that
// @kubernetes-models generates from the Argo Rollouts CRDs and the Kubernetes OpenAPI.
// Prints one line per manifest; exits 1 if any is invalid or of an unknown kind.
import { AnalysisTemplate } from "@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/AnalysisTemplate";
import { Rollout } from "@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/Rollout";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import { Service } from "kubernetes-models/v1/Service";

const MODELS = { Rollout, AnalysisTemplate, Service, Ingress };
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
let failed = 0;
for (const manifest of JSON.parse(Buffer.concat(chunks).toString())) {
  const name = `${manifest.kind}/${manifest.metadata?.name}`;
  const Model = MODELS[manifest.kind];
  if (!Model) {
    console.log(`${name}: unknown kind (known: ${Object.keys(MODELS).join(", ")})`);
    failed += 1;
    continue;
  }
  try {
    new Model(manifest).validate();
    console.log(`${name}: valid`);
  } catch (error) {
    console.log(`${name}: INVALID: ${error.message}`);
    failed += 1;
  }
}
process.exit(failed ? 1 : 0);
