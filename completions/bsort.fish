complete -c bsort -s k -l key -d 'Sort by this key (see KEYS below); repeatable' -r
complete -c bsort -s t -l delimiter -d 'Field separator (one byte; \'\\t\' and \'\\0\' are understood)' -r
complete -c bsort -s o -l output -d 'Write to PATH: a regular or new file atomically (temporary file + rename; PATH may be an input); a symlink\'s target, atomically in the target\'s directory; a FIFO or device directly. PATH ending in .gz or .zst is compressed' -r
complete -c bsort -s S -l buffer-size -d 'Memory budget: 64M, 2G, 25% of RAM; a bare number is KiB [default: 25% of RAM, at most 4G]' -r
complete -c bsort -s T -l temporary-directory -d 'Directory for spill files [default: $TMPDIR, then /tmp]' -r
complete -c bsort -s j -l threads -l parallel -d 'Worker threads [default: the number of cores]' -r
complete -c bsort -l batch-size -d 'Merge at most NMERGE runs at once [default: 64, bounded by the open-file limit]' -r
complete -c bsort -l format -d 'Record format (default: from the first file\'s extension .csv/.jsonl/.ndjson/.parquet, else tsv); parquet reads every FILE as Parquet' -r -f -a "tsv\t''
csv\t''
jsonl\t''
parquet\t''"
complete -c bsort -l stats -d 'On exit, write one JSON object of counters (records, bytes, spills, peak RSS) to stderr or FILE' -r
complete -c bsort -s n -l numeric-sort -d 'Compare keys as decimal numbers'
complete -c bsort -s g -l general-numeric-sort -d 'Compare keys as floating-point numbers'
complete -c bsort -s h -l human-numeric-sort -d 'Compare human-readable sizes (2K, 1G)'
complete -c bsort -s r -l reverse -d 'Reverse the order'
complete -c bsort -s f -l ignore-case -d 'Fold lower case to upper case'
complete -c bsort -s b -l ignore-leading-blanks -d 'Ignore leading blanks of keys'
complete -c bsort -s d -l dictionary-order -d 'Consider only blanks and alphanumerics'
complete -c bsort -s i -l ignore-nonprinting -d 'Consider only printable characters'
complete -c bsort -s s -l stable -d 'Keep records with equal keys in input order (no last-resort comparison)'
complete -c bsort -s u -l unique -d 'Output only the first of each run of records with equal keys'
complete -c bsort -s z -l zero-terminated -d 'Records end with NUL, not newline'
complete -c bsort -s m -l merge -d 'Merge already-sorted inputs; do not sort'
complete -c bsort -s c -l check -d 'Check that the input is sorted; report the first disorder'
complete -c bsort -s C -l check-quiet -d 'Like -c, but report nothing (exit status only)'
complete -c bsort -l compress-temp -d 'Compress spilled runs (zstd): less disk, more CPU'
complete -c bsort -l header -d 'The first record of each TSV/CSV input names the columns; it is written once, first'
complete -c bsort -l progress -d 'Draw progress on stderr: a bar with bytes, rate and ETA when the input sizes are known, else a spinner (default when stderr is a terminal; cleared before any message)'
complete -c bsort -l help -d 'Print help'
complete -c bsort -l version -d 'Print version'
