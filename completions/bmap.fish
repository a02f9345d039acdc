complete -c bmap -l from -l format -d 'Input format (default: from the first file\'s extension .csv/.jsonl/.ndjson/.parquet, else tsv); parquet reads every FILE as Parquet' -r -f -a "tsv\t''
csv\t''
jsonl\t''
parquet\t''"
complete -c bmap -l where -d 'Keep records where \'FIELD OP VALUE\' holds (== != < <= > >= ~ !~); repeatable, ANDed' -r
complete -c bmap -l emit -d 'Write these items as TSV: fields, spans N-M, names, JSON paths, |transforms, \'literals\'' -r
complete -c bmap -l combine -d 'Aggregate what is emitted by its first field (breduce\'s AGG; repeatable) and write partial lines for breduce --merge' -r
complete -c bmap -s t -l delimiter -d 'Field separator (one byte; \'\\t\' and \'\\0\' are understood)' -r
complete -c bmap -l bad-records -d 'With --skip-bad (implied): also write the bad records to FILE, untouched' -r
complete -c bmap -s o -l output -d 'Write to PATH: a regular or new file atomically (temporary file + rename; PATH may be an input); a symlink\'s target, atomically in the target\'s directory; a FIFO or device directly. PATH ending in .gz or .zst is compressed' -r
complete -c bmap -l chunk-size -d 'External mode: bytes per chunk (64M, 512K; a bare number is KiB) [default: 16M]' -r
complete -c bmap -l retries -d 'External mode: re-run a failed chunk up to R times [default: 0]' -r
complete -c bmap -s S -l buffer-size -d 'Memory budget: 64M, 2G, 25% of RAM; a bare number is KiB [default: 25% of RAM, at most 4G]' -r
complete -c bmap -s T -l temporary-directory -d 'Directory for spill files [default: $TMPDIR, then /tmp]' -r
complete -c bmap -s j -l threads -l parallel -d 'Worker threads [default: the number of cores]' -r
complete -c bmap -l stats -d 'On exit, write one JSON object of counters (records, bytes, spills, peak RSS) to stderr or FILE' -r
complete -c bmap -l words -d 'Write TOKEN<TAB>1 for each token separated by spaces and TABs'
complete -c bmap -l lower -d 'With --words: fold tokens to lower case (ASCII)'
complete -c bmap -l header -d 'The first record of each TSV/CSV input names the columns; it is written once, first'
complete -c bmap -s z -l zero-terminated -d 'Records end with NUL, not newline'
complete -c bmap -l skip-bad -d 'Skip bad records (unreadable, or not a number where one is needed), count them and report the count on stderr'
complete -c bmap -l unordered -d 'External mode: write chunk outputs as they finish, not in input order'
complete -c bmap -l progress -d 'Draw progress on stderr: a bar with bytes, rate and ETA when the input sizes are known, else a spinner (default when stderr is a terminal; cleared before any message)'
complete -c bmap -s h -l help -d 'Print help'
complete -c bmap -s V -l version -d 'Print version'
