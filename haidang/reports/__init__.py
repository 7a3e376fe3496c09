"""What officers take away: the rebuttal kit, the correction-request letter, and the deadline reports."""
