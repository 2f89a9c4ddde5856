# Small helpers so that every chapter declares its tests and exercises the same way.

# gpt2_add_test(NAME test_x SOURCES a.cpp b.cpp LIBS lib1 lib2 LABELS unit parity)
# One Catch2 executable registered as one CTest test with the given labels. The test runs in the
# source directory of the chapter so relative paths in messages are short; fixtures are found
# through the GPT2_FIXTURE_DIR / GPT2_DATA_DIR definitions.
function(gpt2_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE gpt2_catch_main ${T_LIBS})
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
endfunction()

# gpt2_add_exercise(NAME ex01_tokenizer SOLUTION sol.cpp STUB stub.cpp TESTS test.cpp LIBS ch01_tokenizer
#                   [TEST_PROPERTIES prop value ...])
# Solution mode: the tests link SOLUTION (which calls the chapter's reference code) and must pass.
# Student mode: the tests link STUB (the TODOs) and every test case is registered as expected to fail,
# so CI proves that no test passes on an unfinished stub. TEST_PROPERTIES are added to every test
# (chapter 09's exercises: SKIP_RETURN_CODE 77, so that a machine without a GPU reports Skipped).
function(gpt2_add_exercise)
  cmake_parse_arguments(E "" "NAME" "SOLUTION;STUB;TESTS;LIBS;TEST_PROPERTIES" ${ARGN})
  if(GPT2_EXERCISES STREQUAL "student")
    set(impl ${E_STUB})
  else()
    set(impl ${E_SOLUTION})
  endif()
  add_executable(${E_NAME} ${E_TESTS} ${impl})
  add_dependencies(gpt2_exercises ${E_NAME})
  target_include_directories(${E_NAME} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${E_NAME} PRIVATE gpt2_catch_main ${E_LIBS})
  if(GPT2_EXERCISES STREQUAL "student")
    # Each TEST_CASE becomes one CTest test that must fail (WILL_FAIL) on the stubs.
    catch_discover_tests(${E_NAME} TEST_PREFIX "${E_NAME}: "
      PROPERTIES LABELS student WILL_FAIL TRUE ${E_TEST_PROPERTIES})
  else()
    catch_discover_tests(${E_NAME} TEST_PREFIX "${E_NAME}: " PROPERTIES LABELS "exercise" ${E_TEST_PROPERTIES})
  endif()
endfunction()
