complete -c bjoin -s k -l key -d 'Join key of both sides (default: field 1); repeatable' -r
complete -c bjoin -l left-key -d 'Join key of the left input; repeatable' -r
complete -c bjoin -l right-key -d 'Join key of the right input; repeatable' -r
complete -c bjoin -l type -d 'Join type' -r -f -a "inner\t''
left\t''
right\t''
full\t''
semi\t''
anti\t''"
complete -c bjoin -l strategy -d 'auto: hash when the build side fits -S, else merge' -r -f -a "auto\t''
hash\t''
merge\t''"
complete -c bjoin -l build -d 'Side to build in memory for hash [default: the smaller file, else right]' -r -f -a "left\t''
right\t''"
complete -c bjoin -l fill -d 'Text of the missing side\'s fields in outer joins [default: empty]' -r
complete -c bjoin -l bad-records -d 'With --skip-bad (implied): write skipped records to FILE, unchanged' -r
complete -c bjoin -s t -l delimiter -d 'Field separator (one byte; \'\\t\' and \'\\0\' are understood)' -r
complete -c bjoin -l format -d 'Record format (default: from the first file\'s extension .csv/.jsonl/.ndjson/.parquet, else tsv); parquet reads every FILE as Parquet' -r -f -a "tsv\t''
csv\t''
jsonl\t''
parquet\t''"
complete -c bjoin -s o -l output -d 'Write to PATH: a regular or new file atomically (temporary file + rename; PATH may be an input); a symlink\'s target, atomically in the target\'s directory; a FIFO or device directly. PATH ending in .gz or .zst is compressed' -r
complete -c bjoin -s S -l buffer-size -d 'Memory budget: 64M, 2G, 25% of RAM; a bare number is KiB [default: 25% of RAM, at most 4G]' -r
complete -c bjoin -s T -l temporary-directory -d 'Directory for spill files [default: $TMPDIR, then /tmp]' -r
complete -c bjoin -s j -l threads -l parallel -d 'Worker threads [default: the number of cores]' -r
complete -c bjoin -l stats -d 'On exit, write one JSON object of counters (records, bytes, spills, peak RSS) to stderr or FILE' -r
complete -c bjoin -l sorted -d 'Inputs are sorted by key: merge without sorting, verifying the order'
complete -c bjoin -l partitioned -d 'LEFT and RIGHT are directories of hash partitions (bsplit --hash, bshuffle -o)'
complete -c bjoin -l skip-bad -d 'Skip records whose key cannot be read (malformed CSV or JSON); report how many on stderr'
complete -c bjoin -l header -d 'The first record of each TSV/CSV input names the columns; it is written once, first'
complete -c bjoin -s z -l zero-terminated -d 'Records end with NUL, not newline'
complete -c bjoin -l progress -d 'Draw progress on stderr: a bar with bytes, rate and ETA when the input sizes are known, else a spinner (default when stderr is a terminal; cleared before any message)'
complete -c bjoin -s h -l help -d 'Print help'
complete -c bjoin -s V -l version -d 'Print version'
