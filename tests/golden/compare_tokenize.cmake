# dse-tokenize reads the tokenizer that dsc embedded in an artifact and must give the same ids as
# the tokenizer.json it came from. Run with -DTOKENIZE=... -DARTIFACT=... -DFIXTURE=... -DTEXT=...
execute_process(COMMAND ${TOKENIZE} --artifact ${ARTIFACT} encode ${TEXT}
                OUTPUT_VARIABLE from_artifact RESULT_VARIABLE rc_artifact ERROR_VARIABLE err_artifact)
execute_process(COMMAND ${TOKENIZE} --tokenizer-json ${FIXTURE} encode ${TEXT}
                OUTPUT_VARIABLE from_json RESULT_VARIABLE rc_json ERROR_VARIABLE err_json)
if(NOT rc_artifact EQUAL 0 OR NOT rc_json EQUAL 0)
  message(FATAL_ERROR "dse-tokenize failed: artifact (${rc_artifact}) ${err_artifact}; json (${rc_json}) ${err_json}")
endif()
if(NOT from_artifact STREQUAL from_json OR from_json STREQUAL "")
  message(FATAL_ERROR "ids differ:\n  from the artifact:       ${from_artifact}\n  from tokenizer.json:     ${from_json}")
endif()
message(STATUS "same ids: ${from_json}")
