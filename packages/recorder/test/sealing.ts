/** A recorder that seals content (`Encryption.layer`), for the tests of the packages that read it back. */
import { Layer, ManagedRuntime } from "effect"
import { Encryption, SqlRecorder } from "../src/index.js"

/** A runtime recording to `url` with every content column sealed under `key` (key id `k1`). */
export const sealingRecorder = (url: string, key: string) =>
  ManagedRuntime.make(
    SqlRecorder.layerFromUrl(url).pipe(
      Layer.provideMerge(Encryption.layer({ keys: { k1: key }, current: "k1" })),
      Layer.orDie
    )
  )
