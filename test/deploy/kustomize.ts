import { execFileSync } from "node:child_process";
import { parseAllDocuments } from "yaml";
import { REPOSITORY_ROOT } from "./podman.js";

export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field by the tests.
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
};

/** `kubectl kustomize deploy/k8s/<directory>` (kubectl with kustomize is on every machine here). */
export function render(directory: string): Manifest[] {
  const text = execFileSync("kubectl", ["kustomize", `deploy/k8s/${directory}`], {
    cwd: REPOSITORY_ROOT,
    encoding: "utf8",
  });
  return parseAllDocuments(text).map((document) => document.toJS() as Manifest);
}
