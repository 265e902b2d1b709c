-- wrk script of bin/bench-proxy --upstream: POSTs the JSON bodies of a file (one per line) in turn, each thread
-- starting at its own line, and counts an answer as good only with status 200 and the stream's closing
-- "data: [DONE]" (a proxy that cuts a stream and still says 200 is caught). Arguments: BODIES_FILE THREADS.
local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   bodies = {}
   for line in io.lines(args[1]) do
      bodies[#bodies + 1] = line
   end
   step = tonumber(args[2])
   position = id
   good = 0
   bad = 0
   headers = { ["Content-Type"] = "application/json" }
end

function request()
   local body = bodies[(position % #bodies) + 1]
   position = position + step
   return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
   if status == 200 and string.find(body, "data: [DONE]", 1, true) then
      good = good + 1
   else
      bad = bad + 1
   end
end

function done(summary, latency, requests)
   local good, bad = 0, 0
   for _, thread in ipairs(threads) do
      good = good + thread:get("good")
      bad = bad + thread:get("bad")
   end
   local e = summary.errors
   io.write(string.format("RESULT requests=%d duration_us=%d good=%d bad=%d connect=%d read=%d write=%d timeout=%d p50_us=%d p99_us=%d\n",
      summary.requests, summary.duration, good, bad, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(99)))
end
