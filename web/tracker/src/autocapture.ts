// What the tracker records without being asked: page views (SPA navigation included),
// clicks, form submits and JavaScript errors.

export interface Autocapture {
  pageviews?: boolean;
  clicks?: boolean;
  forms?: boolean;
  errors?: boolean;
}

type Emit = (type: string, fields: Record<string, unknown>) => void;

const TEXT_MAX = 100;
const CLICKABLE = "a,button,input[type=submit],input[type=button],[role=button],[data-track]";

// A short CSS selector: up to three levels of tag, id and two classes.
export function selectorOf(element: Element): string {
  const parts: string[] = [];
  for (let e: Element | null = element; e && parts.length < 3 && e !== document.body; e = e.parentElement) {
    let part = e.tagName.toLowerCase();
    if (e.id) {
      parts.unshift(part + "#" + e.id);
      break;
    }
    const classes = Array.from(e.classList).slice(0, 2);
    if (classes.length) part += "." + classes.join(".");
    parts.unshift(part);
  }
  return parts.join(" > ");
}

function textOf(element: Element): string {
  const text = (element as HTMLElement).innerText ?? element.textContent ?? "";
  return text.trim().replace(/\s+/g, " ").slice(0, TEXT_MAX);
}

export function startAutocapture(what: Autocapture, emit: Emit, page: () => void): void {
  if (what.pageviews !== false) {
    page();
    // SPA navigation: pushState and replaceState do not fire events of their own.
    let last = location.pathname + location.search;
    const changed = () => {
      const now = location.pathname + location.search;
      if (now !== last) {
        last = now;
        page();
      }
    };
    for (const method of ["pushState", "replaceState"] as const) {
      const original = history[method];
      history[method] = function (this: History, ...args: Parameters<History["pushState"]>) {
        original.apply(this, args);
        changed();
      };
    }
    addEventListener("popstate", changed);
  }
  if (what.clicks !== false) {
    document.addEventListener(
      "click",
      (e) => {
        const target = (e.target as Element | null)?.closest?.(CLICKABLE);
        if (!target) return;
        emit("click", {
          selector: selectorOf(target),
          text: textOf(target),
          href: (target as HTMLAnchorElement).href || undefined,
          track: target.getAttribute("data-track") || undefined,
        });
      },
      true,
    );
  }
  if (what.forms !== false) {
    document.addEventListener(
      "submit",
      (e) => {
        const form = e.target as HTMLFormElement;
        // Field names only: what people type stays in the page (docs/tracker.md).
        const fields = Array.from(form.elements)
          .map((field) => (field as HTMLInputElement).name)
          .filter((name, i, all) => name && all.indexOf(name) === i);
        emit("form_submit", {
          selector: selectorOf(form),
          form_id: form.id || undefined,
          form_name: form.getAttribute("name") || undefined,
          action: form.getAttribute("action") || undefined,
          fields,
        });
      },
      true,
    );
  }
  if (what.errors !== false) {
    addEventListener("error", (e) => {
      emit("error", {
        message: String(e.message).slice(0, 500),
        source: e.filename,
        line: e.lineno,
        column: e.colno,
      });
    });
    addEventListener("unhandledrejection", (e) => {
      emit("error", { message: String(e.reason).slice(0, 500), unhandled_rejection: true });
    });
  }
}
