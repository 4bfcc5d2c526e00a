/**
 * @sextant/store (filled by its own issue).
 */
export {}
