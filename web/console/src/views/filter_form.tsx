// The row of inputs above a list, which submits without leaving the page.
import type { ComponentChildren } from "preact";

export function FilterForm({ onSubmit, children }: { onSubmit: () => void; children: ComponentChildren }) {
  return (
    <form
      class="filters"
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit();
      }}
    >
      {children}
    </form>
  );
}
