/**
 * @sextant/http-router (filled by its own issue).
 */
export {}
