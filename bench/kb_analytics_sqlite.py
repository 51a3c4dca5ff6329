"""The knowledge-base analytics report's queries (crates/tend-sqlite/src/kb_analytics.rs) on
a year of heavy self-service traffic, straight on SQLite (the report's store work; no HTTP):
365 days x (3,000 help-center searches, 9,000 views over 600 of 2,000 articles, 1,000
deflection sessions, 300 zero-result texts). Prints rows and the median/max time of the five
queries for a 30-day and a 365-day range. Run: python3 bench/kb_analytics_sqlite.py
"""
import sqlite3, random, time, glob, os
db=os.environ.get('KB_BENCH_DB', '/tmp/kb_analytics_bench.db')
if os.path.exists(db): os.remove(db)
c=sqlite3.connect(db)
c.execute("PRAGMA journal_mode=WAL")
for f in sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'crates', 'tend-sqlite', 'migrations', '*.sql'))):
    c.executescript(open(f).read())
random.seed(1)
DAYS=365; ARTICLES=2000; D0=20000
rows=[]
for d in range(D0, D0+DAYS):
    for m,src,n in [("search","help",3000),("zero","help",400),("click","help",1500),("view","help",9000),("ticket","form",300),("ticket","email",500),("click","suggest",200)]:
        rows.append((d,m,src,0,n))
    for a in random.sample(range(1,ARTICLES+1), 600):
        rows.append((d,"view","help",a,random.randint(1,50)))
        if random.random()<0.5: rows.append((d,"click","help",a,random.randint(1,10)))
c.executemany("INSERT INTO kb_daily VALUES (?,?,?,?,?)", rows)
gaps=[(d, "gap query %d"%random.randint(1,20000), random.randint(1,5)) for d in range(D0,D0+DAYS) for _ in range(300)]
c.executemany("INSERT OR IGNORE INTO kb_gaps VALUES (?,?,?)", gaps)
sess=[]
for i in range(DAYS*1000):
    d=D0+i//1000; t=d*86400000000
    sess.append(("%032x"%i,"contact",d,t,t+60000000,"q %d"%random.randint(1,5000),random.choice([0,1,2,3]),1,random.choice([0,0,1]),random.choice([None,None,i])))
c.executemany("INSERT INTO kb_deflect_sessions(session,source,day,started_at,last_at,query,hits,asked,clicks,ticket_id) VALUES (?,?,?,?,?,?,?,?,?,?)", sess)
c.execute("ANALYZE")
c.commit()
print("kb_daily rows", len(rows), "kb_gaps", len(gaps), "sessions", len(sess), "db MB", os.path.getsize(db)//2**20)
Q=[("SELECT day, metric, source, SUM(n) FROM kb_daily WHERE day BETWEEN ?1 AND ?2 AND article_id = 0 GROUP BY day, metric, source",()),
("SELECT article_id, metric, SUM(n) FROM kb_daily WHERE day BETWEEN ?1 AND ?2 AND article_id > 0 GROUP BY article_id, metric",()),
("SELECT day, clicks > 0, ticket_id IS NOT NULL, hits = 0, last_at <= ?3, COUNT(*) FROM kb_deflect_sessions WHERE day BETWEEN ?1 AND ?2 GROUP BY 1, 2, 3, 4, 5",(0,)),
("SELECT query, SUM(n) FROM kb_gaps WHERE day BETWEEN ?1 AND ?2 GROUP BY query ORDER BY 2 DESC LIMIT 1000",()),
("SELECT query, COUNT(*) FROM kb_deflect_sessions WHERE day BETWEEN ?1 AND ?2 AND hits = 0 AND query <> '' GROUP BY query ORDER BY 2 DESC LIMIT 1000",()),
]
for days in (30, 365):
    lo=D0+DAYS-days; hi=D0+DAYS-1
    ts=[]
    for rep in range(5):
        t=time.perf_counter()
        for sql,extra in Q:
            args=(lo,hi)+ (((hi+1)*86400000000,) if extra else ())
            c.execute(sql,args).fetchall()
        ts.append((time.perf_counter()-t)*1000)
    ts.sort()
    print(f"range {days} days: median {ts[2]:.1f} ms, max {ts[-1]:.1f} ms")
