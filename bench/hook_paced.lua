-- wrk script for bench/soak.sh: the hook bodies of hook_post.lua, paced to a
-- request rate (wrk itself has no rate option; wrk2 is not packaged).
--
--   wrk -t1 -cC ... -s bench/hook_paced.lua URL -- TOKEN TARGETS hook RATE C
--     RATE  requests per second in all (use one thread: each thread paces
--           itself to RATE)
--     C     the connections given to wrk's -c
-- Every connection waits delay() ms after an answer before its next request.
-- wrk takes whole milliseconds, so the delay is kept as a fraction and
-- handed out dithered (4.8 ms: four 5s and one 4 in five), or the rate
-- could only step by C/d - C/(d+1) (48 connections at 4-5 ms: 9,600 or
-- 12,000/s, never 10,000). It starts at C * 1000 / RATE and is corrected
-- once a second by half the error, in the delay that error means: with N
-- sent in the last second, C/RATE - C/N seconds (the answers' latency
-- cancels out), so the rate holds whatever the latency.
-- Everything else is hook_post.lua's, loaded from beside this file.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "hook_post.lua")

local rate, conns, delay_ms, least_ms, most_ms, carry = 0, 1, 0, 0, 0, 0
local second, sent = 0, 0
local formatted_init = init
function init(args)
  formatted_init(args)
  rate = tonumber(args[4] or "0")
  conns = tonumber(args[5] or "1")
  delay_ms = rate > 0 and conns * 1000 / rate or 0
  -- A daemon that stalled must not be answered by a burst once it is back:
  -- the delay never drops below half the start (at most about twice RATE,
  -- and only after a second short of it).
  least_ms = delay_ms / 2
  most_ms = delay_ms * 4
end

function delay()
  local now = os.time()
  if now ~= second then
    if second ~= 0 and rate > 0 and sent > 0 then
      local error_ms = (conns / rate - conns / sent) * 1000
      delay_ms = math.max(least_ms, math.min(most_ms, delay_ms + error_ms / 2))
    end
    second, sent = now, 0
  end
  sent = sent + 1
  carry = carry + delay_ms
  local whole = math.floor(carry)
  carry = carry - whole
  return whole
end
