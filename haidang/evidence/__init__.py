"""Evidence of flagged pages: kept when a flag is queued (capture), re-checked after a takedown or
correction request (recheck), written out for an officer (files). State lives in the Store."""
