/** Ways to write "../" in a URL path: plain, percent-encoded in either case, half-encoded, double-encoded, with a backslash. */
const PARENT_STEPS = [
  "../",
  "..%2F",
  "..%2f",
  "%2e%2e%2f",
  "%2E%2E/",
  ".%2e/",
  "..%5C",
  "..\\",
  "%252e%252e%252f",
  "....//",
];

/**
 * Request paths that try to climb out of /dashboard/assets/ by one to three levels (the build,
 * the dashboard directory, the repository) towards a file of a served type (`secret.js`) and one
 * of another type (`package.json`), plus odd shapes of the assets path itself. Each must get a
 * 404 and no file. Sent byte for byte.
 */
export const TRAVERSAL_PATHS: readonly string[] = [
  ...PARENT_STEPS.flatMap((step) =>
    [1, 2, 3].flatMap((levels) =>
      ["secret.js", "package.json"].map((target) => `/dashboard/assets/${step.repeat(levels)}${target}`),
    ),
  ),
  "/dashboard/assets/../index.html",
  "/dashboard/assets/%2Fetc%2Fpasswd",
  "/dashboard/assets/..",
  "/dashboard/assets/%2e%2e",
  "/dashboard/assets/",
  "/dashboard/..%2Fpackage.json",
  "/dashboard/%2e%2e/package.json",
  "/dashboard/%2e%2e%2fpackage.json",
];
