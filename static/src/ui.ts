// Small page helpers shared by the play and watch pages.

/** statusLine returns a setter for a status line (error styling optional). */
export function statusLine(el: HTMLElement): (text: string, error?: boolean) => void {
  return (text, error = false) => {
    el.textContent = text;
    el.classList.toggle("error", error);
  };
}

export type OverlayKind = "wait" | "ok" | "error" | null;

/** overlayBanner returns a function that puts a banner over the arena
 * (kind null hides it); ms > 0 hides it after that long. */
export function overlayBanner(el: HTMLElement): (text: string, kind: OverlayKind, ms?: number) => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  return (text, kind, ms = 0) => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    el.textContent = text;
    el.className = kind ?? "";
    el.hidden = kind === null;
    if (ms > 0) {
      timer = setTimeout(() => {
        timer = null;
        el.hidden = true;
      }, ms);
    }
  };
}
