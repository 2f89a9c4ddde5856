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

# gpt2_add_exercise(NAME exercise_NN_name SOLUTION solution.cpp STUB stub.cpp TESTS test.cpp LIBS ch_lib...
#                   [TEST_PROPERTIES prop value ...])
# One exercise program for the folder exercises/NN_name (the conventions are in
# exercises/CMakeLists.txt). NAME must start with exercise_NN_name, the folder's name.
# Solution mode (GPT2_EXERCISES=solution, the default): the tests link SOLUTION and must pass;
# CTest label "exercise".
# Student mode (GPT2_EXERCISES=student): the tests link STUB, the student's answers; CTest label
# "student". A test passes when the answer is right and fails while it is wrong or unfinished.
# Either way each TEST_CASE is one CTest test, and the program prints one verdict line per
# TEST_CASE (tests/exercise_report.h) that scripts/check_exercises.sh collects.
# TEST_PROPERTIES are added to every test (e.g. ENVIRONMENT for chapter 09's CUDA tasks).
# The target gpt2_exercises_NN builds the chapter's exercise programs, gpt2_exercises all of them.
function(gpt2_add_exercise)
  cmake_parse_arguments(E "" "NAME" "SOLUTION;STUB;TESTS;LIBS;TEST_PROPERTIES" ${ARGN})
  get_filename_component(folder ${CMAKE_CURRENT_SOURCE_DIR} NAME)
  string(SUBSTRING ${folder} 0 2 chapter)
  if(NOT E_NAME MATCHES "^exercise_${folder}")
    message(FATAL_ERROR "gpt2_add_exercise: NAME '${E_NAME}' in exercises/${folder} must start with "
                        "'exercise_${folder}' (scripts/check_exercises.sh finds the programs by it)")
  endif()
  if(GPT2_EXERCISES STREQUAL "student")
    set(impl ${E_STUB})
    set(label student)
  else()
    set(impl ${E_SOLUTION})
    set(label exercise)
  endif()
  add_executable(${E_NAME} ${E_TESTS} ${impl})
  target_include_directories(${E_NAME} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${E_NAME} PRIVATE gpt2_catch_main gpt2_exercise_report ${E_LIBS})
  if(NOT TARGET gpt2_exercises_${chapter})
    add_custom_target(gpt2_exercises_${chapter})
    add_dependencies(gpt2_exercises gpt2_exercises_${chapter})
  endif()
  add_dependencies(gpt2_exercises_${chapter} ${E_NAME})
  set_property(GLOBAL APPEND PROPERTY GPT2_EXERCISE_PROGRAMS "${chapter}:${E_NAME}")
  # A task that calls GPT2_EXERCISE_SKIP (a CUDA task without a GPU) shows as Skipped.
  catch_discover_tests(${E_NAME} TEST_PREFIX "${E_NAME}: "
    PROPERTIES LABELS ${label} SKIP_REGULAR_EXPRESSION ": skipped: " ${E_TEST_PROPERTIES})
endfunction()
