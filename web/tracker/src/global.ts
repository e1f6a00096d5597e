// The script served at /tracker.js: `window.sluice`, started by the script tag's data
// attributes when it has data-endpoint, data-path, data-stream or data-key:
//   <script src="https://collect.example.com/tracker.js" data-stream="web" async></script>
// Without them the page calls sluice.init({...}) itself.

import * as sluice from "./index";

declare global {
  interface Window {
    sluice: typeof sluice;
  }
}

window.sluice = sluice;

const script = document.currentScript as HTMLScriptElement | null;
const data = script?.dataset;
if (data && (data.endpoint !== undefined || data.path || data.stream || data.key)) {
  sluice.init({
    // Default: where the script came from.
    endpoint: data.endpoint ?? new URL(script!.src, location.href).origin,
    path: data.path,
    stream: data.stream,
    key: data.key,
    autocapture: data.autocapture !== "false",
  });
}
