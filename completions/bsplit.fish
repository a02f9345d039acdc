complete -c bsplit -s n -l number -d 'Number of parts' -r
complete -c bsplit -s l -l lines -d 'Records per part' -r
complete -c bsplit -s b -l bytes -d 'At most SIZE bytes per part (64M, 1G; a bare number is bytes)' -r
complete -c bsplit -l by -d 'Hive-style directories NAME=VALUE by this key\'s value; KEY|day (|month |year |hour |lower |upper |trim) transforms it first' -r
complete -c bsplit -s k -l key -d 'Key for --hash and --range (default: field 1); repeatable' -r
complete -c bsplit -s o -l output -d 'Output directory (staged, moved into place whole)' -r
complete -c bsplit -l compress -d 'Compress the parts' -r -f -a "gz\t''
zst\t''"
complete -c bsplit -s t -l delimiter -d 'Field separator (one byte; \'\\t\' and \'\\0\' are understood)' -r
complete -c bsplit -l format -d 'Record format (default: from the first file\'s extension .csv/.jsonl/.ndjson/.parquet, else tsv); parquet reads every FILE as Parquet' -r -f -a "tsv\t''
csv\t''
jsonl\t''
parquet\t''"
complete -c bsplit -s S -l buffer-size -d 'Memory budget: 64M, 2G, 25% of RAM; a bare number is KiB [default: 25% of RAM, at most 4G]' -r
complete -c bsplit -s T -l temporary-directory -d 'Directory for spill files [default: $TMPDIR, then /tmp]' -r
complete -c bsplit -s j -l threads -l parallel -d 'Worker threads [default: the number of cores]' -r
complete -c bsplit -l stats -d 'On exit, write one JSON object of counters (records, bytes, spills, peak RSS) to stderr or FILE' -r
complete -c bsplit -l round-robin -d 'Record i to part i mod N'
complete -c bsplit -l hash -d 'Record to part xxh3_64(key) mod N'
complete -c bsplit -l range -d 'N parts in key order (split points from a sample)'
complete -c bsplit -l force -d 'Replace an existing non-empty DIR'
complete -c bsplit -l overwrite-partitions -d 'With --by: DIR may exist; replace only the NAME=VALUE directories written'
complete -c bsplit -l index -d 'Print the -n byte ranges as OFFSET<TAB>LENGTH instead of writing parts'
complete -c bsplit -l header -d 'The first record of each TSV/CSV input names the columns; it is written once, first'
complete -c bsplit -s z -l zero-terminated -d 'Records end with NUL, not newline'
complete -c bsplit -l progress -d 'Draw progress on stderr: a bar with bytes, rate and ETA when the input sizes are known, else a spinner (default when stderr is a terminal; cleared before any message)'
complete -c bsplit -s h -l help -d 'Print help'
complete -c bsplit -s V -l version -d 'Print version'
