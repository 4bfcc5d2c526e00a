/**
 * @sextant/providers (filled by its own issue).
 */
export {}
