-- make demo: a semantic search in the sqlite3 shell with the default model
-- (potion-base-4M-int8, a Model2Vec model: models/default.emb, made by make model).
.headers on
.mode box

SELECT name, source, dims, vocab_size, tokenizer, load_us FROM embed_models;

CREATE TEMP TABLE notes(id INTEGER PRIMARY KEY, body TEXT);
INSERT INTO notes(body) VALUES
  ('The cat slept all afternoon on the warm windowsill.'),
  ('Our dog loves chasing the ball in the park.'),
  ('A kitten was hiding under the sofa.'),
  ('The stock market fell sharply after the interest rate decision.'),
  ('Investors sold their shares as bond yields climbed.'),
  ('The central bank kept borrowing costs unchanged.'),
  ('Heavy rain and strong winds are expected tomorrow.'),
  ('The forecast says it will be sunny and warm this weekend.'),
  ('Snow closed the mountain roads overnight.'),
  ('She scored twice as the home team won the final.'),
  ('The coach praised his players after the match.'),
  ('Add the flour and sugar, then bake for forty minutes.'),
  ('Chop the onions and fry them in olive oil.'),
  ('The new phone has a faster processor and a better camera.'),
  ('Update your laptop to fix the security flaw.'),
  ('The museum opened an exhibition of medieval paintings.'),
  ('The orchestra played a symphony by Beethoven.'),
  ('Doctors recommend regular exercise and a balanced diet.'),
  ('The hospital hired more nurses for the winter season.'),
  ('The train to the airport was delayed by an hour.');

CREATE TEMP TABLE queries(q TEXT);
INSERT INTO queries VALUES
  ('pets sleeping at home'),
  ('financial markets and the economy'),
  ('what will the weather be like'),
  ('cooking a meal in the kitchen'),
  ('a football game');

-- an embed_index over the notes: each body embedded once, on insert
CREATE VIRTUAL TABLE temp.notes_idx USING embed_index(model=default);
INSERT INTO notes_idx(rowid, content) SELECT id, body FROM notes;

-- the three notes closest in meaning to each query, joined back to notes
SELECT q AS query, round(1 - i.distance, 3) AS similarity, n.body
FROM queries, notes_idx AS i JOIN notes AS n ON n.id = i.rowid
WHERE i.notes_idx MATCH q AND i.k = 3
ORDER BY q, i.distance;

-- WordLlama's toolkit in SQL: near duplicates, clusters, semantic splitting
INSERT INTO notes(body) VALUES ('The cat slept all afternoon on the warm windowsill!');
INSERT INTO notes_idx(rowid, content) SELECT id, body FROM notes WHERE id = last_insert_rowid();
SELECT rowid_a, rowid_b, round(similarity, 3) AS similarity FROM embed_dedup('temp.notes_idx', 0.95);
SELECT cluster, group_concat(substr(n.body, 1, 30), ' | ') AS notes
FROM embed_kmeans('temp.notes_idx', 6, 20, 1) AS c JOIN notes n ON n.id = c.rowid
GROUP BY cluster;
SELECT start, "end", chunk FROM embed_split(
  'The cat slept on the sofa. A kitten chased a ball of wool. Stocks fell as '
  || 'bond yields rose. The central bank held rates. Rain is expected tomorrow.', 60);

-- the vector functions on their own
SELECT hex(bquant(embed('a cat', 16))) AS bits_of_first_16_dims,
       hamming(bquant(embed('cat')), bquant(embed('kitten'))) AS hamming_cat_kitten,
       hamming(bquant(embed('cat')), bquant(embed('bond'))) AS hamming_cat_bond;
