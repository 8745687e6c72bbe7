#!/usr/bin/env nextflow
/*
 * seqgx: how well does a sequence-to-expression model predict each person's expression from their
 * own genome? Each process runs one `seqgx` subcommand; `seqgx run PARAMS` runs the same steps on one
 * machine.
 */
nextflow.enable.dsl = 2

include { CHECK_INPUTS } from './modules/local/check_inputs/main'
include { GENES        } from './modules/local/genes/main'
include { PERSONALIZE  } from './modules/local/personalize/main'

def indexOf(String path, List<String> suffixes) {
    def found = suffixes.collect { file(path + it) }.find { it.exists() }
    if (!found) {
        error "No index beside '${path}' (looked for ${suffixes.join(', ')}); create it first"
    }
    return found
}

workflow {
    if (!params.fasta || !params.vcf || !params.annotation || !params.expression) {
        error "Set --fasta, --vcf, --annotation and --expression (or use -profile test)"
    }
    fasta      = Channel.value([file(params.fasta, checkIfExists: true), indexOf(params.fasta, ['.fai'])])
    vcf        = Channel.value([file(params.vcf, checkIfExists: true), indexOf(params.vcf, ['.tbi', '.csi'])])
    annotation = Channel.value(file(params.annotation, checkIfExists: true))
    expression = Channel.value(file(params.expression, checkIfExists: true))
    sample_map = params.sample_map ? Channel.value(file(params.sample_map, checkIfExists: true)) : Channel.value([])
    gene_list  = params.gene_list ? Channel.value(file(params.gene_list, checkIfExists: true)) : Channel.value([])

    CHECK_INPUTS(fasta, vcf, annotation, expression, sample_map, gene_list)
    GENES(annotation, expression, gene_list, CHECK_INPUTS.out.contigs)
    PERSONALIZE(GENES.out.batches.flatten(), fasta, vcf, CHECK_INPUTS.out.samples)

    CHECK_INPUTS.out.versions
        .mix(GENES.out.versions.first(), PERSONALIZE.out.versions.first())
        .unique()
        .collectFile(name: 'versions.yml', storeDir: "${params.outdir}/pipeline_info")
}
