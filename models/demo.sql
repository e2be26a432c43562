-- make demo: a semantic search in the sqlite3 shell with the default model
-- (GloVe 6B 100d with SIF weights, models/default.emb).
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

-- the three notes closest in meaning to each query
SELECT q AS query, rank, round(similarity, 3) AS similarity, body
FROM (
  SELECT q, body, cosine(embed(q), embed(body)) AS similarity,
         row_number() OVER (PARTITION BY q ORDER BY cosine(embed(q), embed(body)) DESC) AS rank
  FROM queries, notes
)
WHERE rank <= 3
ORDER BY q, rank;

-- the vector functions on their own
SELECT hex(bquant(embed('a cat', 16))) AS bits_of_first_16_dims,
       hamming(bquant(embed('cat')), bquant(embed('kitten'))) AS hamming_cat_kitten,
       hamming(bquant(embed('cat')), bquant(embed('bond'))) AS hamming_cat_bond;
