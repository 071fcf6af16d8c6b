-- progress_finish_batch: marks one batch of a prefix job finished, once, adding its counts and
-- report lines.
--
-- KEYS[1]  the job's set of finished batch numbers
-- KEYS[2]  the job's progress hash
-- KEYS[3]  the job's report lines (list)
--
-- ARGV[1]     the batch number
-- ARGV[2]     keys done
-- ARGV[3]     keys failed
-- ARGV[4]     keys skipped
-- ARGV[5]     keys rejected
-- ARGV[6...]  report lines
--
-- Returns 1 if recorded, 0 if the batch was finished already.

if redis.call('sadd', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('hincrby', KEYS[2], 'batches_done', 1)
redis.call('hincrby', KEYS[2], 'done', ARGV[2])
redis.call('hincrby', KEYS[2], 'failed', ARGV[3])
redis.call('hincrby', KEYS[2], 'skipped', ARGV[4])
redis.call('hincrby', KEYS[2], 'rejected', ARGV[5])
for i = 6, #ARGV do redis.call('rpush', KEYS[3], ARGV[i]) end
return 1
