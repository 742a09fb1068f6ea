/** How much one press adds at most: a counter's step, or a +N. Zod-free: the page reads it. */
export const maxStep = 1_000;
/** The largest value a person may set, far beyond any count kept by hand. */
export const maxValue = 1_000_000_000;
