-- rate_reserve: reserves tokens on one bucket's shared request schedule (a GCRA whose clock is
-- Redis's TIME, so the workers' clocks do not matter), and now and then counts the live workers
-- (the in-process fallback's divisor while Redis is away).
--
-- KEYS[1]  the bucket's schedule: its theoretical arrival time (TAT, µs of Redis time)
-- KEYS[2]  the queue's worker heartbeats (sorted set: worker id -> last beat ms)
--
-- ARGV[1]  µs per token
-- ARGV[2]  tokens wanted
-- ARGV[3]  the oldest live heartbeat score (ms), or '' not to count
--
-- Returns {µs until the tokens may be spent, live workers or -1}.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or 0
local start = math.max(tat, now)
local new_tat = math.ceil(start + tonumber(ARGV[1]) * tonumber(ARGV[2]))
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX',
    math.floor((new_tat - now) / 1000) + 1000)
local peers = -1
if ARGV[3] ~= '' then peers = redis.call('ZCOUNT', KEYS[2], ARGV[3], '+inf') end
return {start - now, peers}
