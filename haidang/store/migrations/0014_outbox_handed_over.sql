-- Hải Đăng SQLite schema, version 14: how often the server took an outbox message whole and then
-- gave no answer (errors.DeliveryUncertain), as its own column. Each such attempt may have left a
-- copy in the recipient's mailbox, so the outbox sends the message once more at most; until now
-- that memory was the prefix "[may have been delivered already] " of last_error, lost whenever a
-- later error replaced the text. Old rows carrying the prefix get the count it stood for (2 for
-- the message stopped after the second silence, whose error says so; 1 otherwise), and the prefix
-- is taken out of their error, also where a give-up message quoted it inside.
ALTER TABLE outbox ADD COLUMN handed_over INTEGER NOT NULL DEFAULT 0;
UPDATE outbox
   SET handed_over = CASE WHEN instr(last_error, 'the server took the whole message twice without answering') > 0
                          THEN 2 ELSE 1 END,
       last_error = replace(last_error, '[may have been delivered already] ', '')
 WHERE instr(last_error, '[may have been delivered already] ') > 0;
