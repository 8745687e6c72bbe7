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
include { PREDICT      } from './modules/local/predict/main'
include { ISM          } from './modules/local/ism/main'
include { STATS        } from './modules/local/stats/main'
include { MERGE        } from './modules/local/merge/main'

// An optional input file: the file itself, or [] (nf-core's "no file") when the parameter is unset.
def optionalFile(value) {
    return value ? Channel.value(file(value, checkIfExists: true)) : Channel.value([])
}

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
    sample_map = optionalFile(params.sample_map)
    gene_list  = optionalFile(params.gene_list)
    // A local model file or directory is staged into each task; a hub id or 'oracle' is passed as is.
    model_file = file(params.model).exists() ? Channel.value(file(params.model)) : Channel.value([])
    finetuned  = optionalFile(params.finetuned_weights)
    track_tsv  = optionalFile(params.track_names)
    predictdb  = optionalFile(params.predictdb)

    CHECK_INPUTS(fasta, vcf, annotation, expression, sample_map, gene_list)
    GENES(annotation, expression, gene_list, CHECK_INPUTS.out.contigs)
    PERSONALIZE(GENES.out.batches.flatten(), fasta, vcf, CHECK_INPUTS.out.samples)
    PREDICT(PERSONALIZE.out.haplotypes, model_file, finetuned, track_tsv)
    ISM(PERSONALIZE.out.haplotypes, model_file, finetuned, track_tsv)

    // One STATS task per batch: its haplotypes, predictions and ISM, joined on the batch id.
    per_batch = PERSONALIZE.out.haplotypes
        .join(PREDICT.out.predictions)
        .join(ISM.out.ism)
    STATS(per_batch, expression, vcf, predictdb)
    MERGE(STATS.out.genes.collect(), STATS.out.drivers.collect(), GENES.out.genes)

    CHECK_INPUTS.out.versions
        .mix(GENES.out.versions.first(), PERSONALIZE.out.versions.first(), PREDICT.out.versions.first(),
             ISM.out.versions.first(), STATS.out.versions.first(), MERGE.out.versions)
        .unique()
        .collectFile(name: 'versions.yml', storeDir: "${params.outdir}/pipeline_info")
}
