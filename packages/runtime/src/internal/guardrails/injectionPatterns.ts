/**
 * The default prompt-injection patterns: data, not code. Each is narrow on purpose: a verb aimed at the
 * model's own instructions, a named jailbreak, or a forged chat-template/role marker. Ordinary sentences that
 * share words with them ("ignore the previous email", "the system prompt engineering course", "previous
 * instructions for assembling the shelf", "you are now logged in", "ignore my previous instructions", "don't
 * forget the previous instructions") must not match; the tests hold a list.
 * Matching is case-insensitive.
 */
export const defaultInjectionPatterns: ReadonlyArray<{ readonly name: string; readonly pattern: RegExp }> = [
  {
    name: "ignore_previous_instructions",
    pattern:
      /(?<!\b(?:not|never|don't)\s+)\b(?:ignore|disregard|forget|skip|override|overrule)\s+(?:(?:all|any|every|of|the|your|these|those)\s+)*(?:previous|prior|above|earlier|preceding|foregoing|original|initial)\s+(?:instructions?|directions|directives|rules|prompts?|guidelines|commands|guidance)\b/i
  },
  {
    name: "ignore_system_prompt",
    pattern:
      /(?<!\b(?:not|never|don't)\s+)\b(?:ignore|disregard|forget|bypass|override|overrule)\s+(?:(?:all|any|of|the|your|its)\s+)*(?:system|developer)\s+(?:prompt|message|instructions?)(?![\s-]+(?:engineering|design|template|course)\b)/i
  },
  {
    name: "do_not_follow_instructions",
    pattern:
      /\b(?:do\s+not|don't|stop|no\s+longer)\s+(?:follow|obey)(?:ing)?\s+(?:(?:your|the|any)\s+)(?:previous|prior|original|earlier|system|safety)\s+(?:instructions|rules|guidelines|prompt)\b/i
  },
  {
    name: "reveal_system_prompt",
    pattern:
      /\b(?:reveal|show|print|repeat|display|output|leak|dump|tell|give)\s+(?:me\s+|us\s+)?(?:your|the)\s+(?:(?:full|entire|original|exact|hidden|secret|initial|complete)\s+)*(?:system\s+prompt|system\s+message|hidden\s+instructions|initial\s+instructions|instructions\s+above)(?![\s-]+(?:engineering|design|template|course|library|examples?)\b)/i
  },
  {
    name: "what_is_your_system_prompt",
    pattern: /\bwhat(?:'s|\s+is|\s+are)\s+your\s+(?:system\s+prompt|initial\s+instructions|hidden\s+instructions)\b/i
  },
  {
    name: "jailbreak_persona",
    pattern:
      /\byou\s+are\s+now\s+(?:DAN\b|in\s+(?:developer|god|jailbreak|unrestricted|DAN)\s+mode|an?\s+(?:unrestricted|unfiltered|uncensored|jailbroken)\b|free\s+of\s+(?:all\s+)?(?:restrictions|rules|guidelines))/i
  },
  {
    name: "dan_mode",
    pattern: /\b(?:DAN|developer|god|jailbreak)\s+mode\s+(?:enabled|activated|on)\b|\bdo\s+anything\s+now\b/i
  },
  {
    name: "pretend_no_restrictions",
    pattern:
      /\b(?:pretend|act\s+as\s+if|imagine)\s+(?:that\s+)?you\s+(?:are|were|have)\s+(?:no|not\s+bound\s+by|free\s+(?:of|from))\s+(?:any\s+)?(?:restrictions|rules|guidelines|filters|limitations|content\s+policy)\b/i
  },
  {
    name: "bypass_safety",
    pattern:
      /\b(?:bypass|override|disable|turn\s+off|ignore|circumvent)\s+(?:your\s+|all\s+(?:of\s+)?(?:your\s+)?)(?:safety|content|ethical|moderation)\s+(?:filters?|guidelines|rules|restrictions|protocols|policies|guardrails)\b/i
  },
  {
    name: "forged_role_marker",
    pattern: /^[ \t]*(?:\[system\]|###[ \t]*system[ \t]*:|system[ \t]*:[ \t]*you\s+are\b)/im
  },
  {
    name: "chat_template_token",
    pattern: /<\|(?:im_start|im_end|system|endoftext|start_header_id|end_header_id|eot_id)\|>|\[\/?INST\]|<<\/?SYS>>/i
  }
]
