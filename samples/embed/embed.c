/* embed_c: the smallest C program that generates text with libdse.
 *   embed_c MODEL.dse [PROMPT]     prints up to 16 greedy tokens after PROMPT (default "a") */
#include <stdio.h>
#include <string.h>

#include "dse/dse.h"

static int print_text(const char* text, size_t length, void* user_data) {
  (void)user_data;
  fwrite(text, 1, length, stdout);
  return 0; /* keep going */
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: embed_c MODEL.dse [PROMPT]\n");
    return 2;
  }
  const char* prompt = argc > 2 ? argv[2] : "a";

  dse_model* model = NULL;
  if (dse_model_open(argv[1], NULL, &model) != DSE_OK) {
    fprintf(stderr, "embed_c: %s\n", dse_last_error_message());
    return 1;
  }
  dse_model_info info;
  dse_model_get_info(model, &info);
  fprintf(stderr, "model: %s, vocabulary %llu, context %llu tokens\n", info.architecture,
          (unsigned long long)info.vocab_size, (unsigned long long)info.max_seq_len);

  dse_session* session = NULL;
  if (dse_session_create(model, NULL, &session) != DSE_OK) {
    fprintf(stderr, "embed_c: %s\n", dse_last_error_message());
    dse_model_close(model);
    return 1;
  }
  dse_generate_params params = {0}; /* greedy */
  params.max_new_tokens = 16;
  dse_generate_result result;
  const dse_status st = dse_session_generate(session, prompt, strlen(prompt), &params, print_text, NULL, &result);
  printf("\n");
  if (st != DSE_OK) fprintf(stderr, "embed_c: %s\n", dse_last_error_message());
  else fprintf(stderr, "%llu tokens generated\n", (unsigned long long)result.generated_tokens);

  dse_session_destroy(session);
  dse_model_close(model);
  return st == DSE_OK ? 0 : 1;
}
