/**
 * @sextant/notifiers (filled by its own issue).
 */
export {}
