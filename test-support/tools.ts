/** Tools the packages' tests share. */
import { Tool } from "@sextant/runtime"
import { Schema } from "effect"

/** `get_weather({ city })` → `{ city, tempC: 21 }`: the server tool most recorded runs call. */
export const weatherTool = Tool.make("get_weather", {
  description: "Weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => ({ city, tempC: 21 })
})
