-- progress_record_step: records one named step of a prefix job's final phase, once.
--
-- KEYS[1]  the job's set of recorded steps
-- KEYS[2]  the job's progress hash
-- KEYS[3]  the job's report lines (list)
--
-- ARGV[1]     the step's name
-- ARGV[2]     the counter it adds to
-- ARGV[3]     how much it adds
-- ARGV[4]     the state's TTL (s)
-- ARGV[5...]  report lines
--
-- Returns 1 if recorded, 0 if the step was recorded already.

if redis.call('sadd', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('expire', KEYS[1], ARGV[4])
redis.call('hincrby', KEYS[2], ARGV[2], ARGV[3])
for i = 5, #ARGV do redis.call('rpush', KEYS[3], ARGV[i]) end
return 1
