// localStorage that never throws: private modes, full quotas and sandboxed frames refuse it,
// and the tracker then keeps its state in memory for the page's lifetime.

const memory: Record<string, string> = {};

export function load(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return key in memory ? memory[key] : null;
  }
}

export function save(key: string, value: string): void {
  memory[key] = value;
  try {
    localStorage.setItem(key, value);
  } catch {
    // kept in memory
  }
}

export function remove(key: string): void {
  delete memory[key];
  try {
    localStorage.removeItem(key);
  } catch {
    // nothing stored
  }
}
