/* slmc_bpe_train.h - trains a small byte-level BPE vocabulary (GPT-2 byte
 * alphabet) on a text, for the synthetic example models. */
#ifndef SLMC_BPE_TRAIN_H
#define SLMC_BPE_TRAIN_H

#include "slm_model.h"

/* Fills m->tok with a byte-level BPE ("gpt2", pre "gpt-2") of exactly
 * n_vocab tokens: 256 byte tokens, merges learned from `corpus` (most
 * frequent pair first, ties broken by the pair's text), then, when the corpus
 * runs out of repeated pairs, deterministic merges of existing tokens; the
 * last two ids are the control tokens <s> (bos) and </s> (eos). */
slm_status slmc_bpe_train(slm_model *m, const char *corpus, uint32_t n_vocab, slm_diag *d);

#endif
