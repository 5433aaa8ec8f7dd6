#!lua name=LIBNAME
-- The lobby's shared state machine, for a RedisStore (store_redis.go): a
-- library of Redis functions, loaded once, named after its own hash so that
-- nodes running different versions of it during an upgrade keep their own.
--
-- Every call is one atomic operation of lobby/PROTOCOL.md, transliterated
-- from hub.go, the in-memory lobby: keys[1] is the key prefix (a hash tag,
-- "{tickwire}" by default, so that every key lives in one slot), args[1]
-- names the operation, args[2] is the calling node's clock in unix
-- milliseconds (Config.Now) and args[3] holds the operation's arguments as
-- a JSON object.
--
-- A message for a player or a game server is appended to the inbox stream of
-- the node that holds its connection ("in:<node>", entries c=<conn id>,
-- m=<JSON message>), in the order the operations make them; the node writes
-- them to the connection. Entities are JSON documents, loaded at most once
-- per call and written back at its end (flush), so that two paths through one
-- call never overwrite each other.
--
-- docs/scaling.md describes the keys.

-- The call's arguments, set by the handler at the end before each
-- operation: the key prefix, the caller's clock, the arguments, and rnow,
-- Redis's own clock, for what must agree across nodes whatever their clocks
-- say: signaling and room budgets, and stream trimming.
local P, now, A, rnow

local function key(...) return P .. ':' .. table.concat({...}, ':') end
local function arr(x) if type(x) ~= 'table' then return {} end return x end
local function quote(s)
  if #s > 64 then s = string.sub(s, 1, 64) end
  return '"' .. s .. '"'
end
local function int(n) return string.format('%d', n) end

-- ---- entities

local NONE = {}
local cache, dirty

local function load(k)
  local v = cache[k]
  if v == nil then
    local s = redis.call('GET', k)
    if s then v = cjson.decode(s) else v = NONE end
    cache[k] = v
  end
  if v == NONE then return nil end
  return v
end
local function save(k, v) cache[k] = v; dirty[k] = true end
local function drop(k) cache[k] = NONE; dirty[k] = true end
local function flush()
  for k in pairs(dirty) do
    local v = cache[k]
    if v == NONE then redis.call('DEL', k) else redis.call('SET', k, cjson.encode(v)) end
  end
  dirty = {}
end

local function pkey(id) return key('pl', id) end
local function rkey(id) return key('rm', id) end
local function gkey(id) return key('gs', id) end
local function tkey(id) return key('tk', id) end
local function akey(code) return key('pa', code) end
local function player(id) return load(pkey(id)) end
local function savep(p) save(pkey(p.id), p) end
local function saver(r) save(rkey(r.id), r) end
local function saveg(g) save(gkey(g.id), g) end

-- ---- messages

-- An inbox lives a minute past its last message: its node reads it at
-- once, and one that names a node gone meanwhile then goes by itself.
local function sendRaw(node, conn, json)
  if node ~= nil and node ~= '' then
    local k = key('in', node)
    redis.call('XADD', k, '*', 'c', conn, 'm', json)
    redis.call('PEXPIRE', k, 60000)
  end
end
local function send(node, conn, msg) if node ~= nil and node ~= '' then sendRaw(node, conn, cjson.encode(msg)) end end
local function tellp(p, msg) send(p.node, p.conn, msg) end
-- A game server whose link is down (its grace) has no node: what it would be
-- told is dropped, and the seat list of its next registration makes up for it.
local function tellg(g, msg) if g then send(g.node, g.conn, msg) end end
local function perr(p, id, code, text) tellp(p, {type = 'error', id = id, code = code, message = text}) end
local function gerr(g, id, code, text) tellg(g, {type = 'error', id = id, code = code, message = text}) end

-- The matchmaker leader of a bucket keeps its queue in memory, fed by this
-- log of what changed (docs/scaling.md): a ticket added or gone, a room open
-- for backfill or not. Entries older than a minute go; a leader that falls
-- that far behind has lost its lease and loads the whole bucket again.
local function qlog(b, ...)
  redis.call('XADD', key('ql', b), 'MINID', '~', int(rnow - 60000), '*', ...)
end

-- A ticket joined a bucket: wake its matchmaker, so that a full match forms
-- now rather than at its next tick; a bucket that has none yet, the node of
-- the ticket, to take it.
local function hintLeader(b)
  local v = redis.call('GET', key('mm', b))
  local nid = A.node
  if v then nid = string.match(v, '^(%S+)') end
  sendRaw(nid, '', '{"type":"_mm"}')
end

-- ---- budgets: token buckets in hashes that expire once full again

local function tokens(k, rate, burst)
  local v = redis.call('HMGET', k, 't', 'ts')
  local t, ts = tonumber(v[1]), tonumber(v[2])
  if not t then return burst end
  return math.min(burst, t + math.max(0, rnow - ts) * rate / 1000)
end
local function take(k, rate, burst, t)
  t = t - 1
  redis.call('HSET', k, 't', tostring(t), 'ts', int(rnow))
  redis.call('PEXPIRE', k, int(math.ceil((burst - t) * 1000 / rate) + 1000))
end

-- ---- players and parties

local function newPlayer(id, name, node, conn)
  redis.call('SADD', key('pls'), id)
  return {id = id, name = name, node = node, conn = conn, ticket = '', room = '', party = '', hold = 0}
end

local function busy(p, id)
  if p.ticket ~= '' then perr(p, id, 'busy', 'already queued') return true end
  if p.room ~= '' then perr(p, id, 'busy', 'already in room ' .. p.room) return true end
  return false
end

local function partyMsg(pa, id)
  local members = {}
  for i, mid in ipairs(pa.members) do
    local q = player(mid)
    members[i] = {id = mid, name = q and q.name or ''}
  end
  return {type = 'party', id = id, code = pa.code, leader = pa.leader, members = members}
end

local function partyUpdate(pa, to, id)
  for _, mid in ipairs(pa.members) do
    local q = player(mid)
    if q and q.node ~= '' then
      local rid = ''
      if mid == to then rid = id end
      tellp(q, partyMsg(pa, rid))
    end
  end
end

local function leaveParty(p)
  local pa = load(akey(p.party))
  p.party = ''
  savep(p)
  if not pa then return end
  for i, mid in ipairs(pa.members) do
    if mid == p.id then table.remove(pa.members, i) break end
  end
  if #pa.members == 0 then
    drop(akey(pa.code))
    redis.call('SREM', key('pas'), pa.code)
    return
  end
  if pa.leader == p.id then pa.leader = pa.members[1] end
  save(akey(pa.code), pa)
  partyUpdate(pa, nil, '')
end

-- forgetIfIdle drops a player without a connection once it holds no seat
-- and no ticket, and is not held for its node's handoff (hold).
local function forgetIfIdle(p)
  if p.node ~= '' or p.room ~= '' or p.ticket ~= '' or (p.hold or 0) > now then return end
  if p.party ~= '' then leaveParty(p) end
  drop(pkey(p.id))
  redis.call('SREM', key('pls'), p.id)
  redis.call('ZREM', key('gone'), p.id)
end

-- ---- tickets

local function dequeue(t, by, reason, id)
  redis.call('ZREM', key('q', t.b), t.id)
  redis.call('SREM', key('tks'), t.id)
  qlog(t.b, 'o', 'd', 't', t.id)
  drop(tkey(t.id))
  for _, pid in ipairs(t.players) do
    local q = player(pid)
    if q then
      q.ticket = ''
      savep(q)
      if q.node ~= '' then
        if pid == by then
          tellp(q, {type = 'left', id = id, reason = reason})
        else
          tellp(q, {type = 'left', reason = 'party_left'})
        end
      end
    end
  end
end

-- ---- rooms

local function seatOf(r, pid)
  for i, s in ipairs(r.seats) do
    if s.p == pid then return s, i end
  end
  return nil
end

local function pendKey(r, pid) return r.id .. ' ' .. pid end

local function roomPlayers(r)
  local out = {}
  for i, s in ipairs(r.seats) do out[i] = {id = s.p, name = s.name} end
  return out
end

local function matchMsg(r, s, id)
  return {type = 'match', id = id, room = r.id, code = r.code, mode = r.mode, region = r.region, server = r.gs,
    seat = s.tok, players = roomPlayers(r), expires = s.ex}
end

local function roomUpdate(r)
  local players = roomPlayers(r)
  for _, s in ipairs(r.seats) do
    local p = player(s.p)
    if p and p.node ~= '' then tellp(p, {type = 'room', room = r.id, players = players}) end
  end
end

-- announce tells newly seated players their match (id answers the request of
-- a single joiner) and everyone else in the room who is there now.
local function announce(r, seated, id)
  local new = {}
  for _, s in ipairs(seated) do
    new[s.p] = true
    local p = player(s.p)
    if p and p.node ~= '' then tellp(p, matchMsg(r, s, id)) end
  end
  local players = roomPlayers(r)
  for _, s in ipairs(r.seats) do
    if not new[s.p] then
      local p = player(s.p)
      if p and p.node ~= '' then tellp(p, {type = 'room', room = r.id, players = players}) end
    end
  end
end

local function drained(r)
  local g = load(gkey(r.gs))
  return g == nil or g.drain
end

local function bfRemove(r)
  if r.mm and r.bf and redis.call('HDEL', key('bf', r.b), r.id) > 0 then
    qlog(r.b, 'o', 'x', 'r', r.id)
  end
end

-- offerBackfill lets matchmaking fill r's free seats, when its mode allows
-- and its game server is linked and not draining.
local function offerBackfill(r)
  if not (r.mm and r.bf) then return end
  local g = load(gkey(r.gs))
  local free = r.max - #r.seats
  if not g or g.node == '' or g.drain or free <= 0 then
    bfRemove(r)
    return
  end
  local mean = 0
  if #r.seats > 0 then mean = r.rs / #r.seats end
  local j = cjson.encode({rating = mean, free = free})
  redis.call('HSET', key('bf', r.b), r.id, j)
  redis.call('HSET', key('buckets'), r.b, cjson.encode({mode = r.mode, region = r.region}))
  qlog(r.b, 'o', 'r', 'r', r.id, 'j', j)
end

-- unwait ends r's wait for play, so that its seats no longer count against
-- its creator's address.
local function unwait(r)
  if not r.wait then return end
  r.wait = false
  if redis.call('DECRBY', key('ipw', r.cip), r.max) <= 0 then redis.call('DEL', key('ipw', r.cip)) end
end

local function lessLoaded(a, b)
  local la, lb = a.load * b.cap, b.load * a.cap
  if la ~= lb then return la < lb end
  return a.id < b.id
end

-- place puts a new room on the least-loaded linked game server that has the
-- seats and is not draining, among those of the room's region if any has
-- them, else among servers registered with no region.
local function place(mode, region, size, rid)
  local best, bestExact = nil, false
  for _, sid in ipairs(redis.call('SMEMBERS', key('gss'))) do
    local g = load(gkey(sid))
    if g then
      local exact = region == '' or g.region == region
      local skip = (not exact and g.region ~= '') or g.cap - g.load < size or g.node == '' or g.drain
      if not skip and (best == nil or (exact and not bestExact) or (exact == bestExact and lessLoaded(g, best))) then
        best, bestExact = g, exact
      end
    end
  end
  if not best then return nil end
  local r = {id = rid, code = '', name = '', mode = mode, region = region, public = false, mm = false, bf = false, b = '',
    max = size, gs = best.id, seats = {}, rs = 0, wait = false, creator = '', cip = ''}
  best.load = best.load + size
  saveg(best)
  redis.call('SADD', key('gsr', best.id), rid)
  redis.call('SADD', key('rooms'), rid)
  saver(r)
  return r
end

-- seatPlayer gives p a seat in r and tells the game server; the caller tells
-- the players, once everyone of a match is seated.
local function seatPlayer(r, p, rating, tok)
  local s = {p = p.id, name = p.name, tok = tok, r = rating, cl = false, dl = now + A.seat_timeout}
  s.ex = s.dl
  if p.node == '' then s.ex = math.min(s.dl, now + A.abandoned) end
  table.insert(r.seats, s)
  r.rs = r.rs + rating
  p.room = r.id
  savep(p)
  saver(r)
  redis.call('ZADD', key('pend'), s.ex, pendKey(r, p.id))
  redis.call('HINCRBY', key('cnt'), 'seats', 1)
  tellg(load(gkey(r.gs)), {type = 'seat', room = r.id, player = p.id, seat = tok, name = p.name, mode = r.mode})
  return s
end

-- closeRoom ends r: its remaining players are told reason, the game server
-- is told unless it is the one that ended it.
local function closeRoom(r, reason, tellServer)
  unwait(r)
  for _, s in ipairs(r.seats) do
    redis.call('ZREM', key('pend'), pendKey(r, s.p))
    redis.call('HINCRBY', key('cnt'), 'seats', -1)
    local p = player(s.p)
    if p then
      p.room = ''
      savep(p)
      if p.node ~= '' then tellp(p, {type = 'left', room = r.id, reason = reason}) end
      forgetIfIdle(p)
    end
  end
  r.seats = {}
  drop(rkey(r.id))
  redis.call('SREM', key('rooms'), r.id)
  redis.call('DEL', key('rsig', r.id))
  if r.code ~= '' then redis.call('DEL', key('code', r.code)) end
  if r.public then redis.call('SREM', key('pub'), r.id) end
  bfRemove(r)
  local g = load(gkey(r.gs))
  if g then
    g.load = g.load - r.max
    saveg(g)
    redis.call('SREM', key('gsr', g.id), r.id)
    if tellServer then tellg(g, {type = 'end', room = r.id}) end
  end
end

-- unseat gives up pid's seat in r. The player is told with reason (and id,
-- when it asked); the game server is told unless it is the one that asked.
local function unseat(r, pid, reason, id, tellServer)
  local s, i = seatOf(r, pid)
  table.remove(r.seats, i)
  r.rs = r.rs - s.r
  saver(r)
  redis.call('ZREM', key('pend'), pendKey(r, pid))
  redis.call('HINCRBY', key('cnt'), 'seats', -1)
  if tellServer then tellg(load(gkey(r.gs)), {type = 'unseat', room = r.id, player = pid, reason = reason}) end
  local p = player(pid)
  if p then
    p.room = ''
    savep(p)
    if p.node ~= '' then tellp(p, {type = 'left', id = id, room = r.id, reason = reason}) end
    forgetIfIdle(p)
  end
  if #r.seats == 0 then
    closeRoom(r, reason, true)
    return
  end
  if r.wait and pid == r.creator then
    closeRoom(r, 'abandoned', true)
    return
  end
  roomUpdate(r)
  offerBackfill(r)
end

-- seatBack gives a player that is back its unclaimed seat's full time.
local function seatBack(p)
  if p.room == '' then return nil, nil end
  local r = load(rkey(p.room))
  local s = r and seatOf(r, p.id)
  if not s then return nil, nil end
  s.name = p.name
  if not s.cl then
    s.ex = s.dl
    redis.call('ZADD', key('pend'), s.ex, pendKey(r, p.id))
  end
  saver(r)
  return r, s
end

-- seatAway shortens the unclaimed seat of a player without a lobby
-- connection: without the lobby it cannot signal.
local function seatAway(p)
  if p.room == '' then return end
  local r = load(rkey(p.room))
  local s = r and seatOf(r, p.id)
  if not s or s.cl then return end
  local t = now + A.abandoned
  if t < s.ex then
    s.ex = t
    redis.call('ZADD', key('pend'), s.ex, pendKey(r, p.id))
    saver(r)
  end
end

-- goneNow handles a player whose connection ended: out of its queue (its
-- party's ticket with it) at once, or, with hold, kept until hold passes
-- for it to come back through another node.
local function goneNow(p, hold)
  p.node = ''
  if hold then
    p.hold = now + A.hold
    redis.call('ZADD', key('gone'), p.hold, p.id)
  elseif p.ticket ~= '' then
    local t = load(tkey(p.ticket))
    if t then dequeue(t, p.id, '', '') end
  end
  seatAway(p)
  savep(p)
  forgetIfIdle(p)
end

-- ---- game servers

local function sortedRooms(g)
  local rids = redis.call('SMEMBERS', key('gsr', g.id))
  table.sort(rids)
  return rids
end

-- dropServer forgets g and ends its rooms: their players are told
-- server_lost.
local function dropServer(g)
  for _, rid in ipairs(sortedRooms(g)) do
    local r = load(rkey(rid))
    if r then closeRoom(r, 'server_lost', false) end
  end
  redis.call('DEL', key('gsr', g.id))
  redis.call('SREM', key('gss'), g.id)
  redis.call('DEL', key('res', g.resume))
  redis.call('ZREM', key('graces'), g.id)
  if g.node ~= '' then redis.call('SREM', key('ngs', g.node), g.id) end
  drop(gkey(g.id))
end

-- serverDown starts g's grace: its rooms wait for it to register again.
local function serverDown(g, normal)
  if g.node ~= '' then redis.call('SREM', key('ngs', g.node), g.id) end
  g.node = ''
  if normal or A.grace < 0 then
    dropServer(g)
    return
  end
  g.grace = now + A.grace
  redis.call('ZADD', key('graces'), g.grace, g.id)
  saveg(g)
  for _, rid in ipairs(sortedRooms(g)) do
    local r = load(rkey(rid))
    if r then bfRemove(r) end
  end
end

local function serverSeat(g, id, rid, pid)
  local r = load(rkey(rid))
  if not r or r.gs ~= g.id then
    gerr(g, id, 'not_your_room', 'room ' .. quote(rid) .. ' is not placed on this server')
    return nil
  end
  local s = seatOf(r, pid)
  if not s then
    gerr(g, id, 'not_your_player', 'player ' .. quote(pid) .. ' has no seat in room ' .. quote(rid))
    return nil
  end
  return r, s
end

-- freshCode returns the first of A.codes that is not taken under kind, or
-- the last (a double-length code) if all are.
local function freshCode(kind)
  local codes = arr(A.codes)
  for i = 1, #codes - 1 do
    if redis.call('EXISTS', key(kind, codes[i])) == 0 then return codes[i] end
  end
  return codes[#codes]
end

-- ---- operations

local ops = {}

-- relink puts a player back on its node after a janitor swept that node
-- for dead while it lived (a pause past NodeTTL): its connection is still
-- the player's, here. It gets its seat's match again, which it may have
-- missed meanwhile.
local function relink(p)
  if p.node ~= '' then redis.call('SREM', key('np', p.node), p.id) end
  p.node, p.hold = A.node, 0
  redis.call('ZREM', key('gone'), p.id)
  redis.call('SADD', key('np', A.node), p.id)
  savep(p)
  local r, s = seatBack(p)
  if s then tellp(p, matchMsg(r, s, '')) end
end

-- relinkServer does the same for a game server in a grace it did not need.
local function relinkServer(g)
  if g.node ~= '' then redis.call('SREM', key('ngs', g.node), g.id) end
  g.node, g.grace = A.node, 0
  redis.call('ZREM', key('graces'), g.id)
  redis.call('SADD', key('ngs', A.node), g.id)
  saveg(g)
  for _, rid in ipairs(sortedRooms(g)) do
    local r = load(rkey(rid))
    if r then offerBackfill(r) end
  end
end

-- The caller of a player operation: nil when that connection is no longer
-- the player's (another took over, or the player is gone).
local function me()
  local p = player(A.player)
  if not p or p.conn ~= A.conn then return nil end
  if p.node ~= A.node then relink(p) end
  return p
end
local function meg()
  local g = load(gkey(A.server))
  if not g or g.conn ~= A.conn then return nil end
  if g.node ~= A.node then relinkServer(g) end
  return g
end

function ops.attach()
  local p = player(A.player)
  if not p then
    p = newPlayer(A.player, A.name, A.node, A.conn)
  elseif p.node ~= '' and p.conn ~= A.conn then
    send(p.node, p.conn, {type = '_close', code = 4004, reason = 'connected elsewhere'})
    redis.call('SREM', key('np', p.node), p.id)
  end
  p.name, p.node, p.conn, p.hold = A.name, A.node, A.conn, 0
  redis.call('ZREM', key('gone'), p.id)
  redis.call('SADD', key('np', A.node), p.id)
  savep(p)
  local r, s = seatBack(p)
  local w = {type = 'welcome', id = A.hello_id, v = 1, player = p.id, name = p.name, ticket = p.ticket}
  if A.token ~= '' then
    w.token = A.token
    w.expires = A.expires
  end
  tellp(p, w)
  if p.party ~= '' then
    local pa = load(akey(p.party))
    if pa then tellp(p, partyMsg(pa, '')) end
  end
  if s then tellp(p, matchMsg(r, s, '')) end
end

function ops.gone()
  local p = player(A.player)
  if not p or p.conn ~= A.conn then return end
  if p.node ~= '' then redis.call('SREM', key('np', p.node), p.id) end
  goneNow(p, A.keep)
end

function ops.queue()
  local p = me()
  if not p or busy(p, A.id) then return end
  if not A.known then
    perr(p, A.id, 'unknown_mode', 'no mode ' .. quote(A.mode))
    return
  end
  local players = {p}
  if p.party ~= '' then
    local pa = load(akey(p.party))
    if pa and pa.leader ~= p.id then
      perr(p, A.id, 'not_leader', 'only the party leader queues the party')
      return
    end
    if pa then
      players = {}
      for i, mid in ipairs(pa.members) do players[i] = player(mid) end
      for _, q in ipairs(players) do
        if q.room ~= '' then
          perr(p, A.id, 'busy', 'party member ' .. q.id .. ' is in a room')
          return
        end
      end
    end
  end
  if #players > A.max then
    perr(p, A.id, 'bad_request', "party larger than the mode's rooms")
    return
  end
  local t = {id = A.ticket, b = A.bucket, mode = A.mode, region = A.region, rating = A.rating, since = now, players = {}}
  for i, q in ipairs(players) do t.players[i] = q.id end
  save(tkey(t.id), t)
  redis.call('SADD', key('tks'), t.id)
  redis.call('ZADD', key('q', t.b), now, t.id)
  redis.call('HSET', key('buckets'), t.b, cjson.encode({mode = t.mode, region = t.region}))
  qlog(t.b, 'o', 'a', 't', cjson.encode(t))
  for _, q in ipairs(players) do
    q.ticket = t.id
    savep(q)
    local id = ''
    if q.id == p.id then id = A.id end
    if q.node ~= '' then tellp(q, {type = 'queued', id = id, ticket = t.id, mode = t.mode, region = t.region}) end
  end
  hintLeader(t.b)
end

function ops.leave()
  local p = me()
  if not p then return end
  if p.ticket ~= '' then
    local t = load(tkey(p.ticket))
    if t then
      dequeue(t, p.id, 'leave', A.id)
      return
    end
    p.ticket = ''
    savep(p)
  end
  if p.room ~= '' then
    local r = load(rkey(p.room))
    if r and seatOf(r, p.id) then
      unseat(r, p.id, 'leave', A.id, true)
      return
    end
    p.room = ''
    savep(p)
  end
  if p.party ~= '' then leaveParty(p) end
  tellp(p, {type = 'left', id = A.id, reason = 'leave'})
end

function ops.party_create()
  local p = me()
  if not p then return end
  if p.party ~= '' then
    perr(p, A.id, 'busy', 'already in a party')
    return
  end
  if busy(p, A.id) then return end
  local code = freshCode('pa')
  local pa = {code = code, leader = p.id, members = {p.id}}
  save(akey(code), pa)
  redis.call('SADD', key('pas'), code)
  p.party = code
  savep(p)
  partyUpdate(pa, p.id, A.id)
end

function ops.party_join()
  local p = me()
  if not p then return end
  if p.party ~= '' then
    perr(p, A.id, 'busy', 'already in a party')
    return
  end
  if busy(p, A.id) then return end
  local pa = load(akey(A.code))
  if not pa then
    perr(p, A.id, 'party_not_found', 'no party ' .. quote(A.raw))
    return
  end
  local leader = player(pa.leader)
  if leader and leader.ticket ~= '' then
    perr(p, A.id, 'busy', 'the party is queued')
    return
  end
  if #pa.members >= 16 then
    perr(p, A.id, 'party_full', 'party is full')
    return
  end
  table.insert(pa.members, p.id)
  save(akey(pa.code), pa)
  p.party = pa.code
  savep(p)
  partyUpdate(pa, p.id, A.id)
end

function ops.room_create()
  local p = me()
  if not p or busy(p, A.id) then return end
  if not A.known then
    perr(p, A.id, 'unknown_mode', 'no mode ' .. quote(A.mode))
    return
  end
  if A.size > A.max or A.size < A.min then
    perr(p, A.id, 'bad_request', string.format("max must be within the mode's %d..%d players", A.min, A.max))
    return
  end
  local w = tonumber(redis.call('GET', key('ipw', A.ip))) or 0
  if w + A.size > A.max_seats_ip then
    perr(p, A.id, 'too_many_rooms', string.format('rooms created from this address already hold %d seats nobody plays in (at most %d)',
      w, A.max_seats_ip))
    return 'too_many_rooms'
  end
  local pk, ik = key('prc', p.id), key('iprc', A.ip)
  local pt, it = tokens(pk, A.rate, A.burst), tokens(ik, A.ip_rate, A.ip_burst)
  if pt < 1 or it < 1 then
    perr(p, A.id, 'too_many_rooms', 'rooms created too fast, by this player or this address')
    return 'too_many_rooms'
  end
  local r = place(A.mode, A.region, A.size, A.room)
  if not r then
    perr(p, A.id, 'no_server', 'no game server has room')
    return 'no_server'
  end
  take(pk, A.rate, A.burst, pt)
  take(ik, A.ip_rate, A.ip_burst, it)
  r.name, r.public = A.name, A.public
  r.code = freshCode('code')
  r.wait, r.creator, r.cip = true, p.id, A.ip
  redis.call('INCRBY', key('ipw', A.ip), A.size)
  redis.call('SET', key('code', r.code), r.id)
  if r.public then redis.call('SADD', key('pub'), r.id) end
  saver(r)
  announce(r, {seatPlayer(r, p, 0, A.seat)}, A.id)
  return 'created'
end

function ops.room_join()
  local p = me()
  if not p or busy(p, A.id) then return end
  local rid = redis.call('GET', key('code', A.code))
  local r = rid and load(rkey(rid))
  if not r then
    perr(p, A.id, 'room_not_found', 'no room with code ' .. quote(A.raw))
    return
  end
  if #r.seats >= r.max then
    perr(p, A.id, 'room_full', 'room is full')
    return
  end
  if drained(r) then
    perr(p, A.id, 'room_full', "the room's game server is draining: it takes no new players")
    return
  end
  announce(r, {seatPlayer(r, p, 0, A.seat)}, A.id)
end

function ops.rooms()
  local p = me()
  if not p then return end
  local list = {}
  for _, rid in ipairs(redis.call('SMEMBERS', key('pub'))) do
    local r = load(rkey(rid))
    if r and #r.seats < r.max and (A.mode == '' or A.mode == r.mode) and not drained(r) then
      table.insert(list, {room = r.id, code = r.code, name = r.name, mode = r.mode, region = r.region, players = #r.seats, max = r.max})
    end
  end
  table.sort(list, function(x, y) return x.room < y.room end)
  local out = {}
  for i = 1, math.min(100, #list) do out[i] = list[i] end
  local m = {type = 'rooms', id = A.id}
  if #out > 0 then m.rooms = out end
  tellp(p, m)
end

-- psignal relays a player's signal to its room's game server; it returns
-- what became of it, for the node's counters.
function ops.psignal()
  local p = me()
  if not p then return 'gone' end
  local r = p.room ~= '' and p.room == A.room and load(rkey(p.room))
  local s = r and seatOf(r, p.id)
  if not s then
    perr(p, A.id, 'not_in_room', 'not seated in room ' .. quote(A.room))
    return 'not_in_room'
  end
  if A.seat ~= s.tok then
    perr(p, A.id, 'bad_seat', 'wrong seat token')
    return 'bad_seat'
  end
  local pk, rk = key('psig', p.id), key('rsig', r.id)
  local pt = tokens(pk, A.rate, A.burst)
  if pt < 1 then
    perr(p, A.id, 'signal_limited', "over the player's signaling budget; not relayed")
    return 'signal_limited'
  end
  local rt2 = tokens(rk, A.room_rate, A.room_burst)
  if rt2 < 1 then
    perr(p, A.id, 'signal_limited', "over the room's signaling budget; not relayed")
    return 'signal_limited'
  end
  take(rk, A.room_rate, A.room_burst, rt2)
  take(pk, A.rate, A.burst, pt)
  local g = load(gkey(r.gs))
  if not g or g.node == '' then return 'dropped' end
  sendRaw(g.node, g.conn, '{"type":"signal","room":' .. cjson.encode(r.id) .. ',"player":' .. cjson.encode(p.id) ..
    ',"seat":' .. cjson.encode(s.tok) .. ',"signal":' .. A.sig .. '}')
  return 'relayed'
end

function ops.register()
  local g
  if A.resume ~= '' then
    local sid = redis.call('GET', key('res', A.resume))
    if sid then g = load(gkey(sid)) end
  end
  if g then
    if g.node ~= '' and g.conn ~= A.conn then
      send(g.node, g.conn, {type = '_close', code = 1001, reason = 'game server registered again'})
      redis.call('SREM', key('ngs', g.node), g.id)
    end
    redis.call('DEL', key('res', g.resume))
    g.node, g.conn, g.name, g.region, g.cap, g.resume, g.grace = A.node, A.conn, A.name, A.region, A.cap, A.new_resume, 0
    redis.call('SET', key('res', g.resume), g.id)
    redis.call('ZREM', key('graces'), g.id)
    redis.call('SADD', key('ngs', A.node), g.id)
    saveg(g)
    local rooms, seats = 0, 0
    for _, rid in ipairs(sortedRooms(g)) do
      local r = load(rkey(rid))
      if r then
        rooms = rooms + 1
        for _, s in ipairs(r.seats) do
          tellg(g, {type = 'seat', room = r.id, player = s.p, seat = s.tok, name = s.name, mode = r.mode, claimed = s.cl})
          seats = seats + 1
        end
        offerBackfill(r)
      end
    end
    tellg(g, {type = 'registered', id = A.id, v = 1, server = g.id, capacity = g.cap, resume = g.resume, resumed = true})
    return cjson.encode({server = g.id, resumed = true, rooms = rooms, seats = seats})
  end
  g = {id = A.new_id, name = A.name, region = A.region, cap = A.cap, load = 0, node = A.node, conn = A.conn,
    resume = A.new_resume, grace = 0, drain = false}
  saveg(g)
  redis.call('SADD', key('gss'), g.id)
  redis.call('SET', key('res', g.resume), g.id)
  redis.call('SADD', key('ngs', A.node), g.id)
  tellg(g, {type = 'registered', id = A.id, v = 1, server = g.id, capacity = g.cap, resume = g.resume})
  return cjson.encode({server = g.id, resumed = false})
end

function ops.gsgone()
  local g = load(gkey(A.server))
  if not g or g.conn ~= A.conn then return end
  serverDown(g, A.normal)
end

function ops.gsignal()
  local g = meg()
  if not g then return 'gone' end
  local r, s = serverSeat(g, A.id, A.room, A.player)
  if not r then return 'refused' end
  local p = player(A.player)
  if not p or p.node == '' then return 'dropped' end
  sendRaw(p.node, p.conn, '{"type":"signal","room":' .. cjson.encode(r.id) .. ',"signal":' .. A.sig .. '}')
  return 'relayed'
end

function ops.claim()
  local g = meg()
  if not g then return end
  local r, s = serverSeat(g, A.id, A.room, A.player)
  if not r then return end
  if s.cl or A.seat ~= s.tok then
    gerr(g, A.id, 'bad_seat', 'seat token wrong or already claimed')
    return
  end
  s.cl = true
  redis.call('ZREM', key('pend'), pendKey(r, A.player))
  unwait(r)
  saver(r)
  tellg(g, {type = 'ok', id = A.id})
end

function ops.release()
  local g = meg()
  if not g then return end
  local r = serverSeat(g, A.id, A.room, A.player)
  if not r then return end
  unseat(r, A.player, 'released', '', false)
  tellg(g, {type = 'ok', id = A.id})
end

ops['end'] = function()
  local g = meg()
  if not g then return end
  local r = load(rkey(A.room))
  if not r or r.gs ~= g.id then
    gerr(g, A.id, 'not_your_room', 'room ' .. quote(A.room) .. ' is not placed on this server')
    return
  end
  closeRoom(r, 'ended', false)
  tellg(g, {type = 'ok', id = A.id})
end

function ops.drain()
  local g = meg()
  if not g then return end
  g.drain = true
  saveg(g)
  for _, rid in ipairs(sortedRooms(g)) do
    local r = load(rkey(rid))
    if r then bfRemove(r) end
  end
  tellg(g, {type = 'ok', id = A.id})
end

-- commit makes one match the bucket's matchmaker found, if it still holds
-- the bucket's lease and every ticket is still queued: the tickets leave
-- the queue and their players are seated, in a new room or one open for
-- backfill, or nothing happens at all.
function ops.commit()
  if redis.call('GET', key('mm', A.bucket)) ~= A.lease then return cjson.encode({s = 'lease'}) end
  local ts, need = {}, 0
  for i, tid in ipairs(arr(A.tickets)) do
    local t = load(tkey(tid))
    if not t then return cjson.encode({s = 'gone', t = tid}) end
    ts[i] = t
    need = need + #t.players
  end
  local r
  if A.new then
    r = place(A.mode, A.region, A.size, A.room)
    if not r then return cjson.encode({s = 'noserver'}) end
    r.mm, r.bf, r.b = true, A.backfill, A.bucket
    saver(r)
  else
    r = load(rkey(A.room))
    local g = r and load(gkey(r.gs))
    if not r or not g or g.node == '' or g.drain or r.max - #r.seats < need then return cjson.encode({s = 'noroom'}) end
  end
  local seated, waits, k = {}, {}, 0
  local toks = arr(A.toks)
  for _, t in ipairs(ts) do
    redis.call('ZREM', key('q', t.b), t.id)
    redis.call('SREM', key('tks'), t.id)
    qlog(t.b, 'o', 'd', 't', t.id)
    drop(tkey(t.id))
    table.insert(waits, now - t.since)
    for _, pid in ipairs(t.players) do
      local p = player(pid)
      k = k + 1
      p.ticket = ''
      table.insert(seated, seatPlayer(r, p, t.rating, toks[k]))
    end
  end
  announce(r, seated, '')
  offerBackfill(r)
  return cjson.encode({s = 'ok', room = r.id, server = r.gs, players = k, waits = waits})
end

-- leases renews the matchmaker leases this node holds and takes those
-- nobody holds, one per bucket (mode and region) that has tickets or rooms
-- open for backfill, and the janitor's; it forgets empty buckets.
function ops.leases()
  local held = {}
  local all = redis.call('HGETALL', key('buckets'))
  local mine = '^' .. string.gsub(A.node, '%p', '%%%0') .. ' '
  for i = 1, #all, 2 do
    local b, info = all[i], all[i + 1]
    if redis.call('ZCARD', key('q', b)) == 0 and redis.call('HLEN', key('bf', b)) == 0 then
      redis.call('HDEL', key('buckets'), b)
      redis.call('DEL', key('ql', b))
    else
      local lk = key('mm', b)
      local v = redis.call('GET', lk)
      if A.lead and not v then
        v = A.node .. ' ' .. int(redis.call('INCR', key('mmepoch')))
        redis.call('SET', lk, v, 'PX', A.ttl)
      elseif A.lead and string.find(v or '', mine) then
        redis.call('PEXPIRE', lk, A.ttl)
      end
      if v and string.find(v, mine) then table.insert(held, {b = b, lease = v, info = info}) end
    end
  end
  local jan = false
  local jv = redis.call('GET', key('janitor'))
  if A.lead and not jv then
    redis.call('SET', key('janitor'), A.node, 'PX', A.ttl)
    jan = true
  elseif A.lead and jv == A.node then
    redis.call('PEXPIRE', key('janitor'), A.ttl)
    jan = true
  end
  return cjson.encode({held = held, janitor = jan})
end

-- bload is a bucket's whole queue and open rooms, for a matchmaker that
-- takes it over, with the log position they stand at.
function ops.bload()
  local last = redis.call('XREVRANGE', key('ql', A.bucket), '+', '-', 'COUNT', 1)
  local at = '0-0'
  if #last > 0 then at = last[1][1] end
  local tickets = {}
  for _, tid in ipairs(redis.call('ZRANGE', key('q', A.bucket), 0, -1)) do
    local s = redis.call('GET', tkey(tid))
    if s then table.insert(tickets, s) end
  end
  local rooms = redis.call('HGETALL', key('bf', A.bucket))
  return cjson.encode({at = at, tickets = tickets, rooms = rooms})
end

local function nodeDown(nid, batch)
  local pids = redis.call('SPOP', key('np', nid), batch)
  for _, pid in ipairs(pids) do
    local p = player(pid)
    if p and p.node == nid then goneNow(p, true) end
  end
  if #pids == batch then return false end
  for _, sid in ipairs(redis.call('SMEMBERS', key('ngs', nid))) do
    local g = load(gkey(sid))
    if g and g.node == nid then serverDown(g, false) end
  end
  redis.call('DEL', key('ngs', nid), key('np', nid), key('in', nid), key('node', nid))
  redis.call('ZREM', key('nodes'), nid)
  return true
end

-- sweep is the janitor's round: seats not claimed in time, game servers
-- whose grace passed, players held for a handoff who did not come back,
-- and nodes that stopped heartbeating. Each is bounded; more says to call
-- again.
function ops.sweep()
  local more = false
  local expired = redis.call('ZRANGEBYSCORE', key('pend'), '-inf', int(now), 'LIMIT', 0, 256)
  more = more or #expired == 256
  for _, m in ipairs(expired) do
    local rid, pid = string.match(m, '^(%S+) (.*)$')
    local r = rid and load(rkey(rid))
    local s = r and seatOf(r, pid)
    if s and not s.cl and s.ex <= now then
      unseat(r, pid, 'expired', '', true)
    else
      redis.call('ZREM', key('pend'), m)
    end
  end
  local graces = redis.call('ZRANGEBYSCORE', key('graces'), '-inf', int(now), 'LIMIT', 0, 32)
  more = more or #graces == 32
  for _, sid in ipairs(graces) do
    local g = load(gkey(sid))
    redis.call('ZREM', key('graces'), sid)
    if g and g.node == '' then dropServer(g) end
  end
  local held = redis.call('ZRANGEBYSCORE', key('gone'), '-inf', int(now), 'LIMIT', 0, 256)
  more = more or #held == 256
  for _, pid in ipairs(held) do
    redis.call('ZREM', key('gone'), pid)
    local p = player(pid)
    if p and p.node == '' then
      p.hold = 0
      if p.ticket ~= '' then
        local t = load(tkey(p.ticket))
        if t then dequeue(t, p.id, '', '') end
      end
      savep(p)
      forgetIfIdle(p)
    end
  end
  local dead = redis.call('ZRANGEBYSCORE', key('nodes'), '-inf', int(rnow), 'LIMIT', 0, 4)
  local downs = {}
  for _, nid in ipairs(dead) do
    if redis.call('EXISTS', key('node', nid)) == 0 then
      table.insert(downs, nid)
      if not nodeDown(nid, 500) then more = true end
    else
      redis.call('ZADD', key('nodes'), int(rnow + A.ttl), nid)
    end
  end
  return cjson.encode({more = more, expired = #expired, dropped = #graces, down = downs})
end

-- leave hands a stopping node's players and game servers over: their
-- places are held for them to come back through another node, and its
-- leases go at once.
function ops.leave_node()
  local done = nodeDown(A.node, 2000)
  if done then
    local all = redis.call('HKEYS', key('buckets'))
    for _, b in ipairs(all) do
      local v = redis.call('GET', key('mm', b))
      if v and string.match(v, '^(%S+)') == A.node then redis.call('DEL', key('mm', b)) end
    end
    if redis.call('GET', key('janitor')) == A.node then redis.call('DEL', key('janitor')) end
  end
  return cjson.encode({done = done})
end

-- heartbeat renews the node's liveness lease; "new" says it had none (the
-- node starts, was declared dead, or Redis lost its data): the node then
-- asserts again what it holds (resync).
function ops.heartbeat()
  local existed = redis.call('SET', key('node', A.node), '1', 'PX', A.ttl, 'XX')
  if not existed then redis.call('SET', key('node', A.node), '1', 'PX', A.ttl) end
  redis.call('ZADD', key('nodes'), int(rnow + A.ttl), A.node)
  if existed then return 'ok' end
  return 'new'
end

-- resync asserts the connections a node holds after it lost track of the
-- store (an outage, its lease expired, Redis restarted empty): players and
-- game servers still its own are linked again; players the store has
-- forgotten come back idle (recreated), links it has forgotten are closed
-- for their game servers to register again, and what the store puts on this
-- node but the node no longer holds is gone.
function ops.resync()
  local out = {recreated = {}, close = {}}
  local listed = {}
  for _, e in ipairs(arr(A.players)) do
    listed[e.player] = true
    local p = player(e.player)
    if not p then
      p = newPlayer(e.player, e.name, A.node, e.conn)
      savep(p)
      redis.call('SADD', key('np', A.node), p.id)
      table.insert(out.recreated, e.conn)
    elseif p.conn == e.conn then
      if p.node ~= A.node then relink(p) end
      redis.call('SADD', key('np', A.node), p.id)
    elseif e.attached then
      table.insert(out.close, {conn = e.conn, code = 4004, reason = 'connected elsewhere'})
    end
  end
  for _, pid in ipairs(redis.call('SMEMBERS', key('np', A.node))) do
    if not listed[pid] then
      redis.call('SREM', key('np', A.node), pid)
      local p = player(pid)
      if p and p.node == A.node then goneNow(p, false) end
    end
  end
  local glisted = {}
  for _, e in ipairs(arr(A.servers)) do
    local g = load(gkey(e.server))
    if not g then
      if e.attached then table.insert(out.close, {conn = e.conn, code = 1012, reason = 'the lobby lost this registration: register again'}) end
    elseif g.conn ~= e.conn then
      if e.attached then table.insert(out.close, {conn = e.conn, code = 1001, reason = 'game server registered again'}) end
    else
      glisted[g.id] = true
      if g.node ~= A.node then relinkServer(g) end
      redis.call('SADD', key('ngs', A.node), g.id)
    end
  end
  for _, sid in ipairs(redis.call('SMEMBERS', key('ngs', A.node))) do
    if not glisted[sid] then
      local g = load(gkey(sid))
      if g and g.node == A.node then serverDown(g, false) else redis.call('SREM', key('ngs', A.node), sid) end
    end
  end
  return cjson.encode(out)
end

function ops.ready()
  local n, free, ready = 0, 0, false
  for _, sid in ipairs(redis.call('SMEMBERS', key('gss'))) do
    local g = load(gkey(sid))
    if g and g.node ~= '' and not g.drain then
      local f = math.max(g.cap - g.load, 0)
      n = n + 1
      free = free + f
      ready = ready or f >= A.min
    end
  end
  return cjson.encode({servers = n, free = free, ready = ready})
end

function ops.stats()
  local up, down = 0, 0
  for _, sid in ipairs(redis.call('SMEMBERS', key('gss'))) do
    local g = load(gkey(sid))
    if g and g.node ~= '' then up = up + 1 elseif g then down = down + 1 end
  end
  local queues = {}
  local all = redis.call('HGETALL', key('buckets'))
  for i = 1, #all, 2 do
    local info = cjson.decode(all[i + 1])
    local n = redis.call('ZCARD', key('q', all[i]))
    if n > 0 then table.insert(queues, {mode = info.mode, region = info.region, tickets = n}) end
  end
  return cjson.encode({players = redis.call('SCARD', key('pls')), tickets = redis.call('SCARD', key('tks')),
    parties = redis.call('SCARD', key('pas')), rooms = redis.call('SCARD', key('rooms')),
    seats = tonumber(redis.call('HGET', key('cnt'), 'seats')) or 0, servers = up, down = down, queues = queues})
end

redis.register_function('LIBNAME', function(keys, args)
  local f = ops[args[1]]
  if not f then return redis.error_reply('lobby store: unknown operation ' .. tostring(args[1])) end
  P, now, A = keys[1], tonumber(args[2]), cjson.decode(args[3])
  local t = redis.call('TIME')
  rnow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  cache, dirty = {}, {}
  local res = f()
  flush()
  return res
end)
