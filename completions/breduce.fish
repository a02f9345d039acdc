complete -c breduce -s k -l key -d 'Group by this key (default: field 1); repeatable' -r
complete -c breduce -s t -l delimiter -d 'Field separator (one byte; \'\\t\' and \'\\0\' are understood)' -r
complete -c breduce -l format -d 'Record format (default: from the first file\'s extension .csv/.jsonl/.ndjson/.parquet, else tsv); parquet reads every FILE as Parquet' -r -f -a "tsv\t''
csv\t''
jsonl\t''
parquet\t''"
complete -c breduce -s o -l output -d 'Write to PATH: a regular or new file atomically (temporary file + rename; PATH may be an input); a symlink\'s target, atomically in the target\'s directory; a FIFO or device directly. PATH ending in .gz or .zst is compressed' -r
complete -c breduce -l bad-records -d 'With --skip-bad (implied): also write the bad records to FILE, untouched' -r
complete -c breduce -s S -l buffer-size -d 'Memory budget: 64M, 2G, 25% of RAM; a bare number is KiB [default: 25% of RAM, at most 4G]' -r
complete -c breduce -s T -l temporary-directory -d 'Directory for spill files [default: $TMPDIR, then /tmp]' -r
complete -c breduce -s j -l threads -l parallel -d 'Worker threads [default: the number of cores]' -r
complete -c breduce -l stats -d 'On exit, write one JSON object of counters (records, bytes, spills, peak RSS) to stderr or FILE' -r
complete -c breduce -l hash -d 'Accept unsorted input: aggregate in a hash table, emit groups sorted by key'
complete -c breduce -l partial -d 'Write partial states (for breduce --merge) instead of results'
complete -c breduce -l merge -d 'Read partial states (from --partial or bshuffle --combine) and finish them'
complete -c breduce -l header -d 'The first record of each TSV/CSV input names the columns; it is written once, first'
complete -c breduce -s z -l zero-terminated -d 'Records end with NUL, not newline'
complete -c breduce -l skip-bad -d 'Skip bad records (unreadable, or not a number where one is needed), count them and report the count on stderr'
complete -c breduce -l progress -d 'Draw progress on stderr: a bar with bytes, rate and ETA when the input sizes are known, else a spinner (default when stderr is a terminal; cleared before any message)'
complete -c breduce -s h -l help -d 'Print help'
complete -c breduce -s V -l version -d 'Print version'
