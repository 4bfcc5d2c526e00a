/**
 * What the notifiers of this package handle: the runtime's stream events plus this package's `Alert` and
 * `DetectorSignal`, and the options every one of them shares.
 */
import type { StreamEvent } from "@sextant/runtime"
import type { Duration } from "effect"
import { type Alert, isAlert } from "./Alert.js"
import { type DetectorSignal, isDetectorSignal } from "./DetectorSignal.js"

/** A hook event, a stream delta, an alert raised by `AlertNotifier`, or a detector's signal. */
export type NotifierEvent = StreamEvent.StreamEvent | Alert | DetectorSignal

/** What this package adds to the runtime's events: an alert or a detector's signal (never batched, no delta). */
export type OwnEvent = Alert | DetectorSignal

/** A predicate choosing which events a notifier acts on. */
export type EventFilter = (event: NotifierEvent) => boolean

/** Dispatcher options shared by every notifier of this package (see `Notifier.make` in the runtime). */
export interface CommonOptions {
  /** The name its statistics are kept under. */
  readonly name?: string | undefined
  /** Mailbox size; events past it are dropped and counted. */
  readonly capacity?: number | undefined
  /** `dropping` drops the newest event when the mailbox is full, `sliding` the oldest. */
  readonly strategy?: "dropping" | "sliding" | undefined
  /** Per-event handler timeout. */
  readonly timeout?: Duration.DurationInput | undefined
}

/** Whether an event is this package's own (an `Alert` or a `DetectorSignal`) rather than a runtime event. */
export const isOwnEvent = (event: NotifierEvent): event is OwnEvent => isAlert(event) || isDetectorSignal(event)
