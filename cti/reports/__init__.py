"""Reports over the stored call records: queries, periods, exports, the assessment sheet."""
