#!/usr/bin/env bash
# Fidelity of slmc's quantization methods on the real models in
# ../shared/models: KL divergence of each compiled artifact from its teacher
# on held-out data (slmrt eval --ref, llama.cpp's perplexity protocol with
# 128-token chunks), printed as the markdown rows of docs/fidelity.md.
#
#   shakespeare-F16: calibration on shakespeare-calib.txt, evaluation on
#     shakespeare-eval.txt (disjoint, models/README.md); compared with
#     llama.cpp's own rows in models/README.md.
#   stories260K (f32): its vocabulary is a stand-in, so data is token ids
#     sampled from the model itself (from BOS, temperature 1), calibration
#     and evaluation with different seeds.
#
# Usage: examples/fidelity.sh [BUILD_DIR] [SHARED_DIR] [WORK_DIR] [SECTIONS]
#   SECTIONS: any of "pure llama stories prune structured stories-prune budget"
#   (budget: BUDGET_BPW="3.5 4.5 5.6" by default; about 4 minutes each)
#   (default: all)
set -euo pipefail
build=${1:-build}
shared=${2:-../shared}
work=${3:-fidelity-work}
sections=${4:-pure llama stories prune structured stories-prune budget}
want() { [[ " $sections " == *" $1 "* ]]; }
B=$build/bin
M=$shared/models
mkdir -p "$work"

# kld FILE TEACHER DATA-OPTION DATA -> "ppl kld top1" (top-1 agreement in %)
kld() {
  "$B/slmrt" eval -m "$1" --ref "$2" "$3" "$4" --ctx 128 --json |
    tr -d ' \n' | sed 's/.*"ppl":\([^,]*\),.*"kld_mean":\([^,]*\),.*"same_top1":\([^,}]*\).*/\1 \2 \3/' |
    awk '{printf "%.4f %.6f %.2f\n", $1, $2, 100 * $3}'
}

# row MODEL-LABEL TEACHER TYPE-ARGS METHOD STATS DATA-OPTION DATA OUT
row() {
  local label=$1 teacher=$2 type_args=$3 method=$4 stats=$5 dopt=$6 data=$7 out=$8
  if [ "$method" = rtn ]; then
    "$B/slmc" compile "$teacher" $type_args -o "$out" --quiet
  else
    "$B/slmc" compile "$teacher" $type_args --calib "$stats" --method "$method" -o "$out" --quiet
  fi
  read -r ppl k top1 < <(kld "$out" "$teacher" "$dopt" "$data")
  echo "| $label | ${type_args#--type } | $method | $(stat -c %s "$out") | $ppl | $k | $top1% |"
}

shk=$M/shakespeare-F16.gguf
[ -f "$work/shk.stats" ] || "$B/slmc" calibrate "$shk" --data "$M/shakespeare-calib.txt" --ctx 128 \
  --tokens 1000000 --gram -o "$work/shk.stats" --quiet

if want pure; then
echo "### shakespeare-F16: every matrix one type (llama-quantize --pure)"
echo
echo "| model | type | method | file bytes | PPL | mean KLD | same top-1 |"
echo "|---|---|---|---|---|---|---|"
for type in q4_0 q4_k q3_k; do
  for method in rtn imatrix awq gptq awq+gptq; do
    row shakespeare "$shk" "--type $type" "$method" "$work/shk.stats" --text "$M/shakespeare-eval.txt" \
      "$work/shk-$type-$method.gguf"
  done
done
echo
fi

if want llama; then
echo "### shakespeare-F16 against llama.cpp's rows (models/README.md, with an importance matrix)"
echo
echo "| llama.cpp type | llama.cpp bytes | llama.cpp KLD | slmc | file bytes | mean KLD | KLD ratio |"
echo "|---|---|---|---|---|---|---|"
# name, llama.cpp's row label, slmc's type arguments for the same tensor
# types, and slmc's allocation of the same size or less: the embedding
# (a lookup that no calibration reaches, most of this model's error) one
# step up, the output matrix (which GPTQ compensates) one step down
while read -r name label same alloc; do
  ref=$(grep "^| $label | yes |" "$M/README.md" | awk -F'|' '{gsub(/ /,""); print $4, $6}')
  read -r ref_bytes ref_kld <<<"$ref"
  for variant in same alloc; do
    args=${!variant}
    args=${args//,/ }
    out="$work/shk-$name-$variant.gguf"
    "$B/slmc" compile "$shk" $args --calib "$work/shk.stats" --method awq+gptq -o "$out" --quiet
    read -r ppl k top1 < <(kld "$out" "$shk" --text "$M/shakespeare-eval.txt")
    desc="awq+gptq, ${args}"
    echo "| $label | $ref_bytes | $ref_kld | $desc | $(stat -c %s "$out") | $k | $(awk -v a="$k" -v b="$ref_kld" \
      'BEGIN{printf "%.2f", a / b}') |"
  done
done <<'EOF'
q4_k_m Q4_K_M --type,q4_k_m --type,q4_k_m,--embedding-type,q5_k,--output-type,q5_k
q4_0 Q4_0 --mix,q4_0 --mix,q4_0,--embedding-type,q5_0,--output-type,q5_0
q3_k_m Q3_K_M --type,q3_k_m --type,q3_k_m,--embedding-type,q4_k,--output-type,q4_k
EOF
echo
fi

if want stories; then
echo "### stories260K (f32): token ids sampled from the model"
echo
echo "| model | type | method | file bytes | PPL | mean KLD | same top-1 |"
echo "|---|---|---|---|---|---|---|"
st=$M/stories260K-ref-f32.gguf
# one 128-token sequence per line, BOS first, so every --ctx 128 chunk is one
# sequence from its start (a tokens file is used as given: a chunk cut
# mid-sequence would start without BOS, which this model never saw)
sample() {
  for seed in "$@"; do
    "$B/slmrt" run -m "$st" -p "" -n 127 --temp 1 --seed "$seed" --ids 2>/dev/null
  done | awk 'NF == 128'
}
if [ ! -f "$work/st-eval.tokens" ]; then
  sample $(seq 1 256) >"$work/st-calib.tokens"
  sample $(seq 1001 1064) >"$work/st-eval.tokens"
fi
[ -f "$work/st.stats" ] || "$B/slmc" calibrate "$st" --data "$work/st-calib.tokens" --ctx 128 --tokens 1000000 \
  --gram -o "$work/st.stats" --quiet
for type in q4_0 q4_k q3_k; do
  for method in rtn imatrix awq gptq awq+gptq; do
    row stories260K "$st" "--type $type" "$method" "$work/st.stats" --tokens "$work/st-eval.tokens" \
      "$work/st-$type-$method.gguf"
  done
done
fi

if want prune; then
echo
echo "### shakespeare-F16 pruned (the blocks' linear weights; F16 kept unless a type is given)"
echo
echo "| pruning | then | file bytes | PPL | mean KLD | same top-1 |"
echo "|---|---|---|---|---|---|"
for spec in "magnitude --sparsity,0.5" "wanda --sparsity,0.5" "sparsegpt --sparsity,0.5" \
  "magnitude --pattern,2:4" "wanda --pattern,2:4" "sparsegpt --pattern,2:4" \
  "sparsegpt --pattern,2:4,--type,q4_k,--method,gptq"; do
  read -r method args <<<"$spec"
  args=${args//,/ }
  out="$work/shk-prune-$method-${args//[ :]/_}.gguf"
  "$B/slmc" compile "$shk" --prune "$method" $args --calib "$work/shk.stats" -o "$out" --quiet
  read -r ppl k top1 < <(kld "$out" "$shk" --text "$M/shakespeare-eval.txt")
  then=$(sed -n 's/.*--type \([a-z0-9_]*\).*--method \([a-z+]*\).*/\1 (\2)/p' <<<"$args")
  echo "| $method ${args%% --type*} | ${then:-F16} | $(stat -c %s "$out") | $ppl | $k | $top1% |"
done
fi

if want structured; then
echo
echo "### shakespeare-F16, structured pruning: calibrated importance against random choice"
echo
echo "| removed | block parameters left | importance | file bytes | PPL | mean KLD | same top-1 |"
echo "|---|---|---|---|---|---|---|"
# statistics with the blocks' similarities (no Gram matrices needed)
[ -f "$work/shk-blocks.stats" ] || "$B/slmc" calibrate "$shk" --data "$M/shakespeare-calib.txt" --ctx 128 \
  --tokens 1000000 -o "$work/shk-blocks.stats" --quiet
for target in "--ffn,576" "--ffn,384" "--heads,6" "--heads,4" "--layers,5" "--layers,4"; do
  args=${target//,/ }
  for importance in activation random; do
    out="$work/shk-struct-${args//[ -]/}-$importance.gguf"
    log=$("$B/slmc" compile "$shk" $args --calib "$work/shk-blocks.stats" --importance "$importance" --seed 1 \
      -o "$out" 2>&1 | grep 'structured pruning')
    left=$(sed -n 's/.*block parameters [0-9]* -> \([0-9]*\) (\(.*\) removed).*/\1 (\2 removed)/p' <<<"$log")
    read -r ppl k top1 < <(kld "$out" "$shk" --text "$M/shakespeare-eval.txt")
    echo "| ${args} | $left | $importance | $(stat -c %s "$out") | $ppl | $k | $top1% |"
  done
done
fi

if want stories-prune; then
st=$M/stories260K-ref-f32.gguf
[ -f "$work/st-eval.tokens" ] || { echo "run the stories section first (it samples the data)" >&2; exit 1; }
[ -f "$work/st-blocks.stats" ] || "$B/slmc" calibrate "$st" --data "$work/st-calib.tokens" --ctx 128 \
  --tokens 1000000 --gram -o "$work/st-blocks.stats" --quiet
echo
echo "### stories260K (f32) pruned: unstructured, N:M and structured"
echo
echo "| pruning | importance | PPL | mean KLD | same top-1 |"
echo "|---|---|---|---|---|"
for spec in "--prune,magnitude,--sparsity,0.5" "--prune,wanda,--sparsity,0.5" "--prune,sparsegpt,--sparsity,0.5" \
  "--prune,magnitude,--pattern,2:4" "--prune,wanda,--pattern,2:4" "--prune,sparsegpt,--pattern,2:4" \
  "--ffn,129" "--ffn,86" "--heads,6" "--heads,4" "--layers,4" "--layers,3"; do
  args=${spec//,/ }
  for importance in activation random; do
    [ "$importance" = random ] && [[ "$args" == --prune* ]] && continue
    out="$work/st-prune-${args//[ :-]/_}-$importance.gguf"
    "$B/slmc" compile "$st" $args --calib "$work/st-blocks.stats" --importance "$importance" --seed 1 -o "$out" --quiet
    read -r ppl k top1 < <(kld "$out" "$st" --tokens "$work/st-eval.tokens")
    imp=$importance
    [[ "$args" == --prune* ]] && imp="-"
    echo "| ${args#--prune } | $imp | $ppl | $k | $top1% |"
  done
done
fi

if want budget; then
echo
echo "### shakespeare-F16: size-budget search (--bpw), against llama.cpp's presets"
echo
echo "| budget | search KLD (calib) | chosen | file bytes | bpw | PPL | mean KLD (eval) | same top-1 | types |"
echo "|---|---|---|---|---|---|---|---|---|"
for bpw in ${BUDGET_BPW:-3.5 4.5 5.6}; do
  out="$work/shk-bpw$bpw.gguf"
  "$B/slmc" compile "$shk" --bpw "$bpw" --calib-data "$M/shakespeare-calib.txt" --calib-ctx 128 \
    --calib-tokens 1000000 --budget-tokens 2048 --method gptq -o "$out" --report "$work/shk-bpw$bpw.json" --quiet
  read -r ppl k top1 < <(kld "$out" "$shk" --text "$M/shakespeare-eval.txt")
  chosen=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); c=[x for x in r['search']['candidates'] if x['chosen']][0]; print('%s %.5f' % (c['label'].replace(' ','_'), c['kld_measured']))" "$work/shk-bpw$bpw.json")
  types=$("$B/slmc" inspect "$out" --json | python3 -c "import json,sys,collections; t=json.load(sys.stdin)['tensors']; c=collections.Counter(x['type'] for x in t if len(x['shape'])==2); print(', '.join('%s %d' % kv for kv in sorted(c.items())))")
  size=$(stat -c %s "$out")
  params=$("$B/slmc" inspect "$out" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['n_params'])")
  echo "| $bpw bpw | ${chosen#* } | ${chosen%% *} | $size | $(awk -v s="$size" -v n="$params" 'BEGIN{printf "%.2f", s*8/n}') | $ppl | $k | $top1% | $types |"
done
fi
