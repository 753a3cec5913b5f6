// Drives headless Chromium through chromedriver (W3C WebDriver over HTTP; Node.js 18+, no packages)
// to check an mbd report page. Called by scripts/report-check.sh:
//
//   node check.mjs DRIVER_URL REPORT.html OUT_DIR
//
// Environment: CHROMIUM (the browser binary), CHROMIUM_FLAGS (space-separated), REQUIRED_IDS
// (space-separated element ids that must be in the DOM).
//
// Checks, each printed on one line; exits 1 when any fails:
//   console  no SEVERE entry in the browser log (console errors, uncaught exceptions, blocked or
//            failed loads, Content-Security-Policy violations);
//   network  the page's DevTools Network events (chromedriver's performance log:
//            Network.requestWillBeSent, Network.webSocketCreated) hold no request but the report's
//            own file:// URL;
//   dom      every REQUIRED_IDS element exists, every svg.plot has a non-zero size;
//   and writes OUT_DIR/report.png, a full-page screenshot (at most 16000 px high).
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [driver, report, outDir] = process.argv.slice(2);
const pageURL = pathToFileURL(resolve(report)).href;
const flags = (process.env.CHROMIUM_FLAGS || "").split(/\s+/).filter(Boolean);
const requiredIDs = (process.env.REQUIRED_IDS || "").split(/\s+/).filter(Boolean);

async function call(method, path, body) {
  const res = await fetch(driver + path, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const j = await res.json();
  if (!res.ok || (j.value && j.value.error)) {
    throw new Error(`${method} ${path}: ${JSON.stringify(j.value).slice(0, 400)}`);
  }
  return j.value;
}

// chromedriver is up when /status says ready.
for (let i = 0; ; i++) {
  try {
    const s = await call("GET", "/status");
    if (s.ready) break;
  } catch (e) {
    if (i > 100) throw new Error(`chromedriver at ${driver} does not answer: ${e.message}`);
  }
  await new Promise((r) => setTimeout(r, 100));
}

const session = await call("POST", "/session", {
  capabilities: {
    alwaysMatch: {
      browserName: "chrome",
      "goog:chromeOptions": { binary: process.env.CHROMIUM, args: [...flags, "--window-size=1280,1000"] },
      "goog:loggingPrefs": { browser: "ALL", performance: "ALL" },
    },
  },
});
const sid = session.sessionId;
let failed = 0;
const line = (ok, what, detail) => {
  if (!ok) failed++;
  console.log(`  ${ok ? "ok  " : "FAIL"} ${what}: ${detail}`);
};
const logs = async (type) => {
  try {
    return await call("POST", `/session/${sid}/se/log`, { type });
  } catch {
    return await call("POST", `/session/${sid}/log`, { type }); // older chromedriver
  }
};
const script = (body) => call("POST", `/session/${sid}/execute/sync`, { script: body, args: [] });

try {
  console.log(`report-check: ${pageURL}`);
  await call("POST", `/session/${sid}/url`, { url: pageURL });
  for (let i = 0; i < 100 && (await script("return document.readyState")) !== "complete"; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 300)); // let late errors arrive

  // DOM.
  const dom = await script(`
    const ids = new Set([...document.querySelectorAll("[id]")].map((e) => e.id));
    const plots = [...document.querySelectorAll("svg.plot")].map((s) => { const r = s.getBoundingClientRect(); return [r.width, r.height]; });
    return { ids: [...ids], plots, tokens: document.querySelectorAll("span.tok").length,
             title: document.title, height: document.documentElement.scrollHeight };`);
  const missing = requiredIDs.filter((id) => !dom.ids.includes(id));
  const empty = dom.plots.filter(([w, h]) => !(w > 0 && h > 0)).length;
  line(missing.length === 0, "dom", missing.length ? `missing ids: ${missing.join(", ")}` :
    `${requiredIDs.length} required ids present; ${dom.plots.length} plots${empty ? `, ${empty} of them empty` : ""}; ${dom.tokens} highlighted tokens; title "${dom.title}"`);
  if (empty) line(false, "plots", `${empty} svg.plot of zero size`);

  // Screenshot of the whole page.
  const height = Math.min(16000, Math.max(600, dom.height));
  await call("POST", `/session/${sid}/window/rect`, { width: 1280, height });
  const png = Buffer.from(await call("GET", `/session/${sid}/screenshot`), "base64");
  writeFileSync(resolve(outDir, "report.png"), png);

  // Console.
  const console_ = await logs("browser");
  const errors = console_.filter((e) => e.level === "SEVERE");
  for (const e of console_) console.log(`       ${e.level} ${e.message.slice(0, 300)}`);
  line(errors.length === 0, "console", `${errors.length} errors, ${console_.length - errors.length} other messages`);

  // Network.
  const requests = [];
  for (const e of await logs("performance")) {
    const m = JSON.parse(e.message).message;
    if (m.method === "Network.requestWillBeSent") requests.push(m.params.request.url);
    if (m.method === "Network.webSocketCreated") requests.push(m.params.url);
  }
  const others = requests.filter((u) => u !== pageURL && !u.startsWith("about:"));
  for (const u of others) console.log(`       request ${u.slice(0, 300)}`);
  line(others.length === 0 && requests.includes(pageURL), "network",
    others.length ? `${others.length} request(s) besides the report` :
      requests.includes(pageURL) ? `${requests.length} request (the report itself), none other` : "the performance log saw no request at all (logging broken?)");
  console.log(`  screenshot: ${resolve(outDir, "report.png")} (1280x${height}, ${png.length} bytes)`);
} finally {
  await call("DELETE", `/session/${sid}`).catch(() => {});
}
console.log(failed ? `report-check: ${failed} checks failed` : "report-check: ok");
process.exit(failed ? 1 : 0);
