# Sourced by .ci/fuzz and fuzz/long-run.sh, so both runs give a target the same input
# sizes. Longest input per target: whole records and rules files for the decoders and
# the loader, single events for the rest.
max_len() {
    case "$1" in
        decode_record|decode_stream|kinesis_records|rules_load) echo 65536 ;;
        json|fields|log_event|condition) echo 16384 ;;
        *) echo 4096 ;;
    esac
}
