/**
 * Test fixtures: both dialects as fresh real databases with the SQL recorder and a RunStore over them (the
 * store's own fixtures), and Promise-based fresh databases.
 */
export { freshDatabase } from "../../recorder/test/databases.js"
export { DatabaseUrl, type Dialect, dialects, storeLayer } from "../../store/test/support.js"
