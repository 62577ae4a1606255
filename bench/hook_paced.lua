-- wrk script for bench/soak.sh: the hook bodies of hook_post.lua, paced to a
-- request rate (wrk itself has no rate option; wrk2 is not packaged).
--
--   wrk -t1 -cC ... -s bench/hook_paced.lua URL -- TOKEN TARGETS hook RATE C
--     RATE  requests per second in all (use one thread: each thread paces
--           itself to RATE)
--     C     the connections given to wrk's -c
-- Every connection waits delay() ms after an answer before its next request.
-- The delay starts at C * 1000 / RATE and is corrected once a second by 1 ms
-- towards RATE (the previous second's count against it), so the rate holds
-- whatever the answers' latency; with C = 40 a 1 ms step is about 5 %.
-- Everything else is hook_post.lua's, loaded from beside this file.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "hook_post.lua")

local rate, delay_ms, least_ms = 0, 0, 0
local second, sent = 0, 0
local formatted_init = init
function init(args)
  formatted_init(args)
  rate = tonumber(args[4] or "0")
  delay_ms = rate > 0 and math.floor(tonumber(args[5] or "1") * 1000 / rate) or 0
  -- A daemon that stalled must not be answered by a burst once it is back:
  -- the delay never drops below 3/4 of the start (at most ~4/3 of RATE).
  least_ms = math.floor(delay_ms * 3 / 4)
end

function delay()
  local now = os.time()
  if now ~= second then
    if second ~= 0 and rate > 0 then
      if sent < rate then delay_ms = math.max(least_ms, delay_ms - 1)
      elseif sent > rate then delay_ms = delay_ms + 1 end
    end
    second, sent = now, 0
  end
  sent = sent + 1
  return delay_ms
end
