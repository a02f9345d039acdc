complete -c bshuffle -s k -l key -d 'Partition and sort by this key (default: field 1); repeatable' -r
complete -c bshuffle -s n -l partitions -d 'Number of partitions [default: 1]' -r
complete -c bshuffle -s o -l output -d 'Write part files and _SUCCESS to DIR (staged, moved into place whole)' -r
complete -c bshuffle -l partition -d 'Write only partition I of N (0-based) to stdout (-n, if given, must say the same N)' -r
complete -c bshuffle -l combine -d 'Aggregate map-side (breduce\'s AGG syntax; repeatable) and emit partial states for breduce --merge' -r
complete -c bshuffle -s t -l delimiter -d 'Field separator (one byte; \'\\t\' and \'\\0\' are understood)' -r
complete -c bshuffle -l format -d 'Record format (default: from the first file\'s extension .csv/.jsonl/.ndjson/.parquet, else tsv); parquet reads every FILE as Parquet' -r -f -a "tsv\t''
csv\t''
jsonl\t''
parquet\t''"
complete -c bshuffle -l bad-records -d 'With --skip-bad (implied): also write the bad records to FILE, untouched' -r
complete -c bshuffle -s S -l buffer-size -d 'Memory budget: 64M, 2G, 25% of RAM; a bare number is KiB [default: 25% of RAM, at most 4G]' -r
complete -c bshuffle -s T -l temporary-directory -d 'Directory for spill files [default: $TMPDIR, then /tmp]' -r
complete -c bshuffle -s j -l threads -l parallel -d 'Worker threads [default: the number of cores]' -r
complete -c bshuffle -l stats -d 'On exit, write one JSON object of counters (records, bytes, spills, peak RSS) to stderr or FILE' -r
complete -c bshuffle -l force -d 'Replace an existing non-empty output directory'
complete -c bshuffle -l header -d 'The first record of each TSV/CSV input names the columns; it is written once, first'
complete -c bshuffle -s z -l zero-terminated -d 'Records end with NUL, not newline'
complete -c bshuffle -l skip-bad -d 'Skip bad records (unreadable, or not a number where one is needed), count them and report the count on stderr'
complete -c bshuffle -l compress-temp -d 'Compress spilled runs (zstd): less disk, more CPU'
complete -c bshuffle -l progress -d 'Draw progress on stderr: a bar with bytes, rate and ETA when the input sizes are known, else a spinner (default when stderr is a terminal; cleared before any message)'
complete -c bshuffle -s h -l help -d 'Print help'
complete -c bshuffle -s V -l version -d 'Print version'
